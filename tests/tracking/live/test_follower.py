"""Following a journal as it grows: only new complete lines are read, the view matches a full fold, and a
replaced journal is read again from the start."""

import json
import os

from dspy_gepa.tracking.live import JournalFollower, follow
from dspy_gepa.tracking.report import build_run, load_run


def journal_lines(log_dir):
    return (log_dir / "journal.jsonl").read_bytes().splitlines(keepends=True)


def test_follower_reads_only_what_was_appended_and_waits_for_whole_lines(recorded_run, tmp_path):
    lines = journal_lines(recorded_run[0])
    path = tmp_path / "journal.jsonl"
    follower = JournalFollower(tmp_path)
    assert not follower.poll() and not follower.exists  # no journal yet: nothing to show, no error
    seen = []
    with open(path, "wb") as f:
        for line in lines:
            f.write(line[:7])  # a write in progress: the follower must not take half a record
            f.flush()
            follower.poll()
            f.write(line[7:])
            f.flush()
            before = follower.version
            assert follower.poll() and follower.version > before
            seen.append(len(follower.view().candidates))
    assert not follower.poll()  # nothing new
    full = load_run(recorded_run[0])
    view = follower.view()
    assert [c.idx for c in view.candidates] == [c.idx for c in full.candidates]
    assert view.metric_calls == full.metric_calls and view.status == full.status == "finished"
    assert view.best_idx == full.best_idx and view.fronts() == full.fronts()
    assert seen == sorted(seen) and seen[0] == 0 and seen[-1] == len(full.candidates)


def test_follow_catches_up_in_bounded_reads(recorded_run, monkeypatch):
    monkeypatch.setattr("dspy_gepa.tracking.live.follower.READ_CHUNK", 1000)
    follower = follow(recorded_run[0])
    assert len(follower.view().candidates) == len(load_run(recorded_run[0]).candidates)


def test_replaced_journal_is_read_again_from_the_start(recorded_run, tmp_path):
    lines = journal_lines(recorded_run[0])
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"".join(lines))
    follower = follow(tmp_path)
    assert follower.view().status == "finished"
    fresh = tmp_path / "new.jsonl"
    fresh.write_bytes(b"".join(lines[:3]))
    os.replace(fresh, path)  # a new run in the same log_dir
    assert follower.poll()
    view = follower.view()
    assert view.status == "running" and view.metric_calls == sum(b'"rollout"' in ln for ln in lines[:3])


def test_proposals_in_flight_until_committed(recorded_run):
    records = [json.loads(line) for line in journal_lines(recorded_run[0])]
    cut = next(i for i, r in enumerate(records) if r["type"] == "reflection" and r["seq"] >= 2)
    view = build_run(records[: cut + 1])
    (flight,) = view.inflight
    parent_rollouts = sum(1 for r in records[:cut] if r["type"] == "rollout" and r["seq"] == flight.seq)
    assert flight.seq == records[cut]["seq"] and flight.rollouts == parent_rollouts > 0
    assert flight.texts == records[cut]["texts"] and flight.components == records[cut]["components"]
    assert view.candidate(next(c.idx for c in view.candidates if c.hash == flight.parent_hash)) is not None
    commit = next(i for i, r in enumerate(records) if r["type"] == "commit" and r["seq"] == flight.seq)
    assert build_run(records[: commit + 1]).inflight == []
    assert build_run(records).inflight == []
