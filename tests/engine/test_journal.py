"""Journal reading: records are streamed, rollout payloads kept encoded and only where a later reflection
may read them, and journals written by earlier versions (``data/journal_v1_*.jsonl``, written by the
engine before journal reading was reworked) still resume to the same result without an LM call."""

import shutil
from pathlib import Path

import pytest

from dspy_gepa.engine import Engine, EngineConfig
from dspy_gepa.engine.journal import FileJournal, MemoryJournal, load, read_journal, read_records
from dspy_gepa.engine.types import RolloutKey
from dspy_gepa.exceptions import JournalError
from dspy_gepa.tracking.report import load_run

from .fakes import FakeAdapter, make_data

DATA = Path(__file__).parent / "data"


def run_like_the_fixtures(log_dir=None, adapter=None):
    """The configuration the v1 fixtures were written with."""
    train, val = make_data(n_train=12, n_val=24)
    adapter = adapter or FakeAdapter(("a", "b"), capacity=2)
    cfg = EngineConfig(max_metric_calls=300, val_policy="staged", max_concurrent_proposals=1, num_threads=1)
    result = Engine(adapter, train, val, {"a": "Solve a.", "b": "Solve b."}, cfg, log_dir=log_dir).run()
    state = result.state
    return (state.candidates, state.parents, state.val_scores, state.discovered_at, result.total_metric_calls), adapter


def copy_fixture(name, tmp_path):
    shutil.copy(DATA / f"journal_v1_{name}.jsonl", tmp_path / "journal.jsonl")
    return tmp_path


def test_finished_v1_journal_resumes_without_a_call(tmp_path):
    reference, _ = run_like_the_fixtures()
    resumed, adapter = run_like_the_fixtures(copy_fixture("finished", tmp_path))
    assert resumed == reference
    assert adapter.eval_calls == [] and adapter.reflections == 0


def test_interrupted_v1_journal_resumes_to_the_same_result(tmp_path):
    reference, ref_adapter = run_like_the_fixtures()
    recorded = sum(1 for r in read_records(DATA / "journal_v1_interrupted.jsonl") if r["type"] == "rollout")
    resumed, adapter = run_like_the_fixtures(copy_fixture("interrupted", tmp_path))
    assert resumed == reference
    assert len(adapter.eval_calls) == len(ref_adapter.eval_calls) - recorded


def test_v1_journal_reports():
    run = load_run(DATA / "journal_v1_finished.jsonl")
    assert run.status == "finished" and len(run.candidates) == 11 and run.metric_calls == 296


def test_only_training_payloads_are_kept_and_they_decode_on_demand():
    contents = read_journal(DATA / "journal_v1_finished.jsonl")
    train = {k: r for k, r in contents.rollouts.items() if k.split == "train"}
    val = {k: r for k, r in contents.rollouts.items() if k.split == "val"}
    assert train and val and contents.commits and contents.num_records > len(contents.rollouts)
    assert all(r.payload is None for r in val.values())
    assert all(r.payload is not None and r.has_trajectory for r in train.values())
    key, recorded = next(iter(train.items()))
    assert recorded.payload.get("trajectory")["cat"] == recorded.payload.get("output")["cat"]
    with_outputs = read_journal(DATA / "journal_v1_finished.jsonl", val_outputs=True)
    assert all(r.payload.get("output") is not None for k, r in with_outputs.rollouts.items() if k.split == "val")


def test_records_stream_and_a_torn_tail_is_skipped(tmp_path):
    path = tmp_path / "journal.jsonl"
    text = (DATA / "journal_v1_interrupted.jsonl").read_bytes()
    path.write_bytes(text + b'{"type": "rollout", "key": ["x", "tr')
    records = read_records(path)
    assert next(records)["type"] == "header"  # a generator: nothing is read ahead
    assert sum(1 for _ in records) + 1 == text.count(b"\n")
    journal = FileJournal(path)
    contents = load(journal)
    assert contents.torn_tail.startswith('{"type": "rollout"') and contents.num_records == text.count(b"\n")


def test_a_corrupt_line_and_a_newer_format_are_refused(tmp_path):
    path = tmp_path / "journal.jsonl"
    lines = (DATA / "journal_v1_interrupted.jsonl").read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3] + ["{not json\n"] + lines[3:]))
    with pytest.raises(JournalError, match="line 4 is corrupt"):
        read_journal(path)
    path.write_text(lines[0].replace('"version": 1', '"version": 2') + "".join(lines[1:]))
    with pytest.raises(JournalError, match="format 2.*Upgrade dspy-gepa"):
        read_journal(path)


def test_memory_journal_keeps_the_records_it_holds():
    journal = MemoryJournal()
    for record in read_records(DATA / "journal_v1_finished.jsonl"):
        journal.append(record)
    contents = load(journal)
    key = next(k for k in contents.rollouts if k.split == "train")
    assert isinstance(key, RolloutKey) and contents.rollouts[key].payload.get("trajectory") is not None
