"""The dashboard's HTTP side against a real uvicorn server on 127.0.0.1: the page and its assets (shipped in the
package), the run as JSON, and server-sent events that follow the journal as it grows."""

import json
import socket
import urllib.error
import urllib.request

import pytest

from dspy_gepa import cli
from dspy_gepa.exceptions import DashboardError
from dspy_gepa.tracking.live import LiveServer, run_payload
from dspy_gepa.tracking.report import build_run, load_run

pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install 'dspy-gepa[serve]'")


def get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers.get("content-type", ""), response.read()


def events(response):
    """The server-sent events of an open ``response``, as (event, id, parsed data), as they arrive."""
    fields = {}
    for raw in response:
        line = raw.decode().rstrip("\n")
        if line:
            key, _, value = line.partition(": ")
            fields[key] = value
            continue
        if "data" in fields:
            yield fields.get("event"), int(fields["id"]), json.loads(fields["data"])
        fields = {}


def test_serves_the_page_its_assets_and_the_run(recorded_run):
    log_dir = recorded_run[0]
    with LiveServer(log_dir) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        status, kind, body = get(server.url)
        assert status == 200 and kind.startswith("text/html") and b"/static/dashboard.js" in body
        for asset in ("static/dashboard.js", "static/dashboard.css", "static/uPlot.iife.min.js",
                      "static/uPlot.min.css", "report.css"):
            status, kind, body = get(server.url + asset)
            assert status == 200 and len(body) > 100, asset
        _, kind, body = get(server.url + "api/run")
        data = json.loads(body)
    run = load_run(log_dir)
    assert kind == "application/json" and data["status"] == "finished" and data["journal"] is True
    assert [c["idx"] for c in data["candidates"]][0] == run.best_idx
    assert data["budget"]["metric_calls"] == run.metric_calls
    assert data["budget"]["metric_calls_left"] == run.max_metric_calls - run.metric_calls
    assert len(data["points"]) == len(run.candidates) and data["curve"][-1]["score"] == run.best.val_mean
    assert 'id="cand-0"' in "".join(c["html"] for c in data["candidates"]) and "<svg" in data["html"]["lineage"]
    assert {k: v for k, v in data.items() if k not in ("journal",)} == json.loads(json.dumps(
        run_payload(run, version=data["version"])))


def test_events_follow_the_journal_as_it_grows(recorded_run, tmp_path):
    """One open event stream sees the run appear, grow and finish, without asking again."""
    lines = (recorded_run[0] / "journal.jsonl").read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    journal = tmp_path / "journal.jsonl"
    with LiveServer(tmp_path, poll_interval=0.05) as server, \
            urllib.request.urlopen(server.url + "api/events", timeout=30) as response:
        stream = events(response)
        event, first_id, first = next(stream)
        assert event == "run" and first["journal"] is False and first["candidates"] == [] and first["version"] == first_id
        journal.write_bytes(b"".join(lines[:half]))
        second = next(data for _, _, data in stream if data["candidates"])
        with open(journal, "ab") as f:
            f.write(b"".join(lines[half:]))
        third = next(data for _, _, data in stream if data["status"] == "finished")
    assert 0 < len(second["candidates"]) < len(third["candidates"]) == len(load_run(recorded_run[0]).candidates)
    assert second["status"] == "running" and second["budget"]["metric_calls"] < third["budget"]["metric_calls"]
    assert first["version"] < second["version"] < third["version"]


def test_a_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(DashboardError, match=f"port {port} .* already in use.*--port"):
            LiveServer(tmp_path, port=port)


def test_cli_serve_options(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr("dspy_gepa.tracking.live.serve", lambda log_dir, **kw: seen.update(log_dir=log_dir, **kw))
    assert cli.main(["serve", str(tmp_path), "--port", "0"]) == 0
    assert seen["log_dir"] == str(tmp_path) and seen["port"] == 0 and seen["host"] == "127.0.0.1"
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])


def test_unknown_path_is_404(recorded_run):
    with LiveServer(recorded_run[0]) as server, pytest.raises(urllib.error.HTTPError) as err:
        get(server.url + "static/../../journal.jsonl")
    assert err.value.code == 404


def test_cost_budget_left_comes_from_the_run_started_record(recorded_run):
    """The journal's run_started record carries max_cost, so the page can show the dollars left."""
    records = [json.loads(line) for line in (recorded_run[0] / "journal.jsonl").read_text().splitlines()]
    assert "max_cost" in next(r for r in records if r["type"] == "run_started")["config"]
    for r in records:
        if r["type"] == "run_started":
            r["config"]["max_cost"] = 2.0
        if r["type"] == "commit":
            r["total_cost"] = 0.5
    budget = run_payload(build_run(records))["budget"]
    assert (budget["max_cost"], budget["cost"], budget["cost_left"]) == (2.0, 0.5, 1.5)


@pytest.mark.slow
def test_the_serve_command_prints_its_address_serves_and_stops_on_ctrl_c(recorded_run):
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "dspy_gepa.cli", "serve", str(recorded_run[0]), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and "Ctrl-C" in line
        assert json.loads(get(url + "api/run")[2])["status"] == "finished"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    with pytest.raises(urllib.error.URLError):
        get(url)
