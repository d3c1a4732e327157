"""The live dashboard in real headless Chromium (Playwright; CI installs Debian's chromium): it loads with no
console error, its charts hold the run's data, and it follows a scripted GEPA run that writes its journal in
another thread, updating without a reload."""

import threading
import time

import pytest

from dspy_gepa.tracking.live import LiveServer
from dspy_gepa.tracking.report import load_run

from ...helpers import task_lm
from ..conftest import run_gepa

pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install 'dspy-gepa[serve]'")


def dashboard(page, expression):
    return page.evaluate(f"() => {{ const d = window.dashboard; return {expression}; }}")


@pytest.mark.slow
def test_dashboard_of_a_finished_run(recorded_run, browser_page, tmp_path):
    log_dir = recorded_run[0]
    run = load_run(log_dir)
    page = browser_page.page
    with LiveServer(log_dir) as server:
        page.goto(server.url)
        page.wait_for_function("window.dashboard.updates > 0")
        page.wait_for_selector("#live.on")
        assert page.title() == f"GEPA live — {log_dir.name}"
        assert dashboard(page, "d.charts.calls.data[0].length") >= len(run.candidates)
        assert dashboard(page, "d.charts.calls.data[2].filter(v => v !== null).length") == len(run.candidates)
        assert dashboard(page, "Math.max(...d.charts.calls.data[1].filter(v => v !== null))") == run.best.val_mean
        assert page.locator("#candidates-body section.cand").count() == len(run.candidates)
        assert page.locator("#lineage-body svg circle.node").count() == len(run.candidates)
        assert page.locator("#scores-body table.matrix td.front").count() > 0
        assert page.locator("#budget").inner_text().startswith(f"metric calls: {run.metric_calls} of 150")
        assert "finished" in page.locator("#status").inner_text()
        assert page.locator("#chart-calls canvas").bounding_box()["width"] > 300
        assert browser_page.screenshot_colors(tmp_path / "finished.png", full_page=True) > 200
    assert browser_page.errors == []


@pytest.mark.slow
def test_dashboard_follows_a_run_as_it_writes_its_journal(browser_page, tmp_path):
    """The page is opened before the run starts; a scripted run (its task LM slowed down) then writes the
    journal; the page shows it running, with proposals in flight, and then finished, all without a reload."""
    log_dir = tmp_path / "run"
    log_dir.mkdir()
    page = browser_page.page
    slow = task_lm(latency=0.03)
    seen = {"running": 0, "inflight": 0}
    with LiveServer(log_dir, poll_interval=0.1) as server:
        page.goto(server.url)
        page.wait_for_function("window.dashboard.updates > 0")
        assert page.locator("#waiting").is_visible() and dashboard(page, "d.data.candidates.length") == 0
        result = {}
        worker = threading.Thread(target=lambda: result.update(r=run_gepa(log_dir, task=slow).detailed_results))
        worker.start()
        try:
            page.wait_for_function("window.dashboard.data.candidates.length > 1", timeout=120_000)
            shot_colors = browser_page.screenshot_colors(tmp_path / "running.png")
            while worker.is_alive():
                seen["running"] += dashboard(page, "d.data.status") == "running"
                seen["inflight"] += page.locator("#inflight-body table.inflight tr").count() > 1
                time.sleep(0.1)
        finally:
            worker.join()
        page.wait_for_function("window.dashboard.data.status === 'finished'", timeout=60_000)
        r = result["r"]
        assert page.locator("#candidates-body section.cand").count() == len(r.candidates)
        assert dashboard(page, "d.charts.calls.data[2].filter(v => v !== null).length") == len(r.candidates)
        assert dashboard(page, "d.updates") > 3
        assert "Nothing in flight" not in page.locator("#inflight-body").inner_text()
        assert not page.locator("#waiting").is_visible()
        page.wait_for_selector("#live.on")
    assert seen["running"] > 0 and seen["inflight"] > 0
    assert shot_colors > 100
    assert browser_page.errors == []
