"""Journal reading for replay and reports (``engine/journal.py``): records are streamed, a rollout's payload
is kept encoded and only where a later reflection may read it, and a resumed run decodes it on demand.
(Loading errors, torn tails and the format version are in ``test_journal.py``; journals of earlier versions
resume in ``tests/invariants/test_old_journals.py``.)"""

from dspy_gepa.engine import events as ev
from dspy_gepa.engine.journal import MemoryJournal
from dspy_gepa.engine.replay import load, read_journal, read_records
from dspy_gepa.engine.types import RolloutKey

from .fakes import FakeAdapter, run, summary


def finished_run(tmp_path, **kwargs):
    result, _, _ = run(FakeAdapter(("a", "b"), capacity=2), components=("a", "b"), budget=200, log_dir=tmp_path,
                       **kwargs)
    return result, tmp_path / "journal.jsonl"


def test_only_training_payloads_are_kept_and_they_decode_on_demand(tmp_path):
    _, path = finished_run(tmp_path)
    contents = read_journal(path)
    train = {k: r for k, r in contents.rollouts.items() if k.split == "train"}
    val = {k: r for k, r in contents.rollouts.items() if k.split == "val"}
    assert train and val and contents.commits and contents.num_records > len(contents.rollouts)
    assert all(r.payload is None for r in val.values())
    assert all(r.payload is not None for r in train.values())
    recorded = next(iter(train.values()))
    assert recorded.payload.get("trajectory")["cat"] == recorded.payload.get("output")["cat"]
    with_outputs = read_journal(path, val_outputs=True)
    assert all(r.payload.get("output") is not None for k, r in with_outputs.rollouts.items() if k.split == "val")


def test_records_are_streamed(tmp_path):
    _, path = finished_run(tmp_path)
    records = read_records(path)
    assert next(records)["type"] == "header"  # a generator: nothing is read ahead
    assert sum(1 for _ in records) + 1 == len(path.read_bytes().splitlines())


def test_a_memory_journal_keeps_the_records_it_holds(tmp_path):
    _, path = finished_run(tmp_path)
    journal = MemoryJournal()
    for record in read_records(path):
        journal.append(record)
    contents = load(journal)
    key = next(k for k in contents.rollouts if k.split == "train")
    assert contents.rollouts[key].payload.get("trajectory") is not None


def test_a_resumed_run_reflects_on_replayed_trajectories(tmp_path):
    """The second session replays the first one's rollouts (payloads still encoded) and goes on live: its
    reflections read parents' trajectories decoded from the journal, and it ends where one session ends."""
    reference, _, _ = run(FakeAdapter(("a", "b"), capacity=2), components=("a", "b"), budget=200)
    run(FakeAdapter(("a", "b"), capacity=2), components=("a", "b"), budget=100, log_dir=tmp_path)
    resumed, adapter, events = run(FakeAdapter(("a", "b"), capacity=2), components=("a", "b"), budget=200,
                                   log_dir=tmp_path)
    assert summary(resumed) == summary(reference)
    replayed = {e.key for e in events if isinstance(e, ev.RolloutFinished) and e.replayed}
    minibatch = {e.seq: e.minibatch for e in events if isinstance(e, ev.ProposalStarted)}
    live = [e for e in events if isinstance(e, ev.ReflectionFinished) and not e.replayed]
    on_replayed = [e for e in live if any(RolloutKey(e.parent_hash, "train", i) in replayed for i in minibatch[e.seq])]
    assert on_replayed and adapter.reflections == len(live)


def test_reading_without_payloads_cuts_rollouts_only_where_they_are_laid_out_so(tmp_path):
    import json

    from dspy_gepa.engine.journal import FORMAT_VERSION

    tricky = {"type": "rollout", "key": ["h", "val", 0], "seq": 1, "score": 1.0,
              "feedback": 'it said , "output": {"x": 1} here', "error": None, "usage": {"output": {"m": {}}},
              "output": {"queue": "a"}, "trajectory": None}
    reordered = {"type": "rollout", "key": ["h", "val", 1], "seq": 1, "score": 0.0, "output": {"queue": "b"},
                 "feedback": "f", "error": None, "usage": {"task": {}}, "trajectory": None}
    nested = {**tricky, "key": ["h", "val", 2], "usage": {"task": {}, "output": {}}}
    path = tmp_path / "journal.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [
        {"type": "header", "version": FORMAT_VERSION, "fingerprint": {}}, tricky, reordered, nested]))
    heads = list(read_records(path, payloads=False))[1:]
    assert heads[0] == {k: v for k, v in tricky.items() if k not in ("output", "trajectory")}
    assert heads[1:] == [reordered, nested]  # payload not last, or the marker first met in a nested object: whole
    contents = read_journal(path)
    assert [r.feedback for r in contents.rollouts.values()] == [tricky["feedback"], "f", tricky["feedback"]]


def test_a_rollout_record_ends_with_its_payload_and_objectives_before_it_are_read():

    from dspy_gepa.engine.adapter import JsonCodec
    from dspy_gepa.engine.journal import journal_record
    from dspy_gepa.engine.types import Rollout

    event = ev.RolloutFinished(key=RolloutKey("h", "train", 0), seq=1,
                               rollout=Rollout(1.0, output={"a": 1}, objectives={"acc": 1.0}, trajectory={"t": 1}))
    record = journal_record(event, JsonCodec())
    assert list(record)[-2:] == ["output", "trajectory"]  # readers skip the payload by its place
    late = {k: v for k, v in record.items() if k != "objectives"} | {"objectives": {"acc": 1.0}}  # older order
    for rec in (record, late):
        journal = MemoryJournal()
        journal.append({"type": "header", "version": 1, "fingerprint": {}})
        journal.append(rec)
        assert load(journal).rollouts[RolloutKey("h", "train", 0)].objectives == {"acc": 1.0}


def test_objectives_written_after_the_payload_are_read_from_a_file(tmp_path):
    import json

    from dspy_gepa.engine.journal import FORMAT_VERSION

    rec = {"type": "rollout", "key": ["h", "val", 0], "seq": 1, "score": 1.0, "feedback": None, "error": None,
           "usage": None, "output": {"x": 1}, "trajectory": None, "objectives": {"acc": 0.5}}
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps({"type": "header", "version": FORMAT_VERSION, "fingerprint": {}}) + "\n"
                    + json.dumps(rec) + "\n")
    assert read_journal(path).rollouts[RolloutKey("h", "val", 0)].objectives == {"acc": 0.5}
    assert list(read_records(path, payloads=False))[1]["objectives"] == {"acc": 0.5}


def test_the_header_is_read_from_the_first_line_alone(tmp_path):
    from dspy_gepa.engine.replay import read_header

    _, path = finished_run(tmp_path)
    assert read_header(path) == next(read_records(path))
    with path.open("a") as f:
        f.write("{not json\n")  # a corrupt later line is not read
    assert read_header(path)["type"] == "header" and read_header(tmp_path / "missing.jsonl") is None
