"""The report drawn by a real browser (headless Chromium through Playwright; CI installs Debian's chromium). The
other report tests live in tests/tracking/report/ (one file per module of dspy_gepa/tracking/report/)."""

import pytest


@pytest.mark.slow
def test_report_renders_in_headless_chromium(recorded_run, browser_page, tmp_path):
    """The page loads with no console error, its charts and lineage carry the run's data, and it is far from
    blank."""
    log_dir, optimized = recorded_run
    candidates = len(optimized.detailed_results.candidates)
    page = browser_page.page
    page.goto((log_dir / "report.html").as_uri())
    assert page.title().startswith("GEPA run report")
    chart = page.locator("#progress svg.chart").first
    assert chart.locator("path.best").count() == 1 and chart.locator("circle.dot").count() == candidates
    assert page.locator("#lineage svg circle.node").count() == candidates
    assert page.locator("#candidates section.cand").count() == candidates
    assert page.locator("table.matrix td.front").count() > 0
    assert chart.bounding_box()["width"] > 300
    assert browser_page.screenshot_colors(tmp_path / "report.png", full_page=True) > 200
    assert browser_page.errors == []
