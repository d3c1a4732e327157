"""The report drawn by a real browser. The other report tests live in tests/tracking/report/ (one file per
module of dspy_gepa/tracking/report/); this one stays here, as it is, for the CI job that installs Chromium."""

import shutil

import pytest


@pytest.mark.slow
def test_report_renders_in_headless_chromium(recorded_run, tmp_path):
    """A real browser draws the page (install Debian's `chromium` to run this)."""
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    image = pytest.importorskip("PIL.Image")
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400", f"--screenshot={shot}",
                    (recorded_run[0] / "report.html").as_uri()], capture_output=True, timeout=120, check=True)
    with image.open(shot) as png:
        assert png.size == (1280, 2400)
        colors = png.convert("RGB").getcolors(maxcolors=1_000_000)
    assert len(colors) > 200  # text, charts, the score matrix: far from a blank page
