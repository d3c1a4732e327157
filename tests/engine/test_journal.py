"""The journal (``engine/journal.py``): file and memory backends, loading and its errors, the format version,
the configuration fingerprint, and the recorder that turns events into records."""

import errno
import json
import logging
import math
import os
import re

import pytest

from dspy_gepa._run_dir import LOCK
from dspy_gepa.engine import events as ev
from dspy_gepa.engine.adapter import JsonCodec
from dspy_gepa.engine.journal import (
    FORMAT_VERSION,
    FileJournal,
    JournalRecorder,
    MemoryJournal,
    journal_record,
    run_fingerprint,
)
from dspy_gepa.engine.replay import check_fingerprint, load, read_journal
from dspy_gepa.engine.types import Rollout, RolloutKey
from dspy_gepa.exceptions import JournalError, JournalMismatchError

HEADER = {"type": "header", "version": FORMAT_VERSION, "fingerprint": {}}
ROLLOUT = {"type": "rollout", "key": ["abc", "train", 2], "seq": 1, "score": 0.5}


def lines(*records):
    return "".join(json.dumps(r) + "\n" for r in records)


# ---------------------------------------------------------------- FileJournal


def test_a_missing_file_reads_as_empty(tmp_path):
    journal = FileJournal(tmp_path / "journal.jsonl")
    assert list(journal.read()) == [] and journal.torn_tail is None
    assert read_journal(tmp_path / "journal.jsonl").header is None


def test_a_torn_last_line_is_kept_aside_not_read(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(lines(HEADER, ROLLOUT) + '{"type": "ro')
    journal = FileJournal(path)
    assert list(journal.read()) == [(1, HEADER), (2, ROLLOUT)]
    assert journal.torn_tail == '{"type": "ro'


def test_blank_lines_are_skipped_and_numbering_follows_the_file(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(lines(HEADER) + "\n  \n" + lines(ROLLOUT))
    journal = FileJournal(path)
    assert [n for n, _ in journal.read()] == [1, 4] and journal.torn_tail is None


def test_a_corrupt_line_before_the_last_is_an_error_naming_it(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(lines(HEADER) + "not json\n" + lines(ROLLOUT))
    with pytest.raises(JournalError, match=re.escape(
            f"{path}: line 2 is corrupt (Expecting value: line 1 column 1 (char 0)); the journal cannot be replayed. "
            "Restore it from a backup, or use a new log_dir.")):
        list(FileJournal(path).read())


def test_open_drops_a_torn_tail_so_appends_stay_whole_lines(tmp_path, caplog):
    path = tmp_path / "journal.jsonl"
    path.write_text(lines(HEADER) + '{"type": "ro')
    journal = FileJournal(path)
    with caplog.at_level(logging.WARNING):
        journal.open()
    assert f"The last line of {path} was torn by an interruption (12 bytes)" in caplog.text
    journal.append(ROLLOUT, durable=True)
    journal.close()
    assert path.read_text() == lines(HEADER, ROLLOUT)


def test_open_creates_the_directory_and_appends_round_trip(tmp_path):
    journal = FileJournal(tmp_path / "new" / "dir" / "journal.jsonl")
    journal.open()
    journal.append(HEADER)
    journal.append({"type": "usage", "usage": {}, "reason": "émoji ✓"})
    journal.close()
    journal.close()  # closing twice is harmless
    assert [r for _, r in FileJournal(journal.path).read()] == [HEADER, {"type": "usage", "usage": {},
                                                                         "reason": "émoji ✓"}]


def test_a_journal_that_cannot_be_created_says_so(tmp_path):
    (tmp_path / "f").write_text("a file, not a directory")
    with pytest.raises(JournalError, match=r"Cannot write the journal in log_dir='.*/f': .* Pick a writable directory"):
        FileJournal(tmp_path / "f" / "journal.jsonl").open()


def failing_writes(journal, keep: int, error=errno.ENOSPC):
    """Make ``journal``'s next writes put ``keep`` bytes in the file, then fail as a full disk does."""
    real = journal._write

    def write(data):
        real(data[:keep])
        raise OSError(error, os.strerror(error))

    journal._write = write
    return real


def test_a_failed_append_cuts_the_file_back_to_whole_lines_and_stops_the_run(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = FileJournal(path)
    journal.open()
    journal.append(HEADER)
    real = failing_writes(journal, keep=10)
    with pytest.raises(JournalError, match=re.escape(
            f"Cannot append to the journal {path}: [Errno 28] No space left on device. The run stops so that no paid "
            "work goes unrecorded; make room (or fix the permissions) and run again with the same log_dir to resume.")):
        journal.append(ROLLOUT, durable=True)
    assert path.read_text() == lines(HEADER)
    journal._write = real  # room again: the next record (the run's failure) is a whole line after the last one
    journal.append({"type": "run_failed"})
    journal.close()
    assert path.read_text() == lines(HEADER, {"type": "run_failed"})


def test_when_a_partial_line_cannot_be_removed_nothing_more_is_written(tmp_path, monkeypatch, caplog):
    path = tmp_path / "journal.jsonl"
    journal = FileJournal(path)
    journal.open()
    journal.append(HEADER)
    real = failing_writes(journal, keep=10, error=errno.EIO)

    def cannot(fd, length):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "ftruncate", cannot)
    with pytest.raises(JournalError, match=r"\[Errno 5\] Input/output error"):
        journal.append(ROLLOUT)
    journal._write = real
    with pytest.raises(JournalError, match=r"an earlier write failed .* could not be removed"):
        journal.append({"type": "run_failed"})
    journal.close()
    assert path.read_text() == lines(HEADER) + json.dumps(ROLLOUT)[:10]  # a torn last line, dropped on resume
    assert "nothing more is written to it" in caplog.text


def test_a_log_dir_has_one_writer_and_its_lock_is_released_on_close(tmp_path):
    first, second = FileJournal(tmp_path / "journal.jsonl"), FileJournal(tmp_path / "journal.jsonl")
    first.open()
    assert (tmp_path / LOCK).read_text().split()[0] == str(os.getpid())
    with pytest.raises(JournalError, match=re.escape(
            f"log_dir={str(tmp_path)!r} is in use by another GEPA run (process {os.getpid()} on ")):
        second.lock()
    first.close()
    second.open()
    second.append(HEADER)
    second.close()
    assert (tmp_path / "journal.jsonl").read_text() == lines(HEADER)


# ---------------------------------------------------------------- MemoryJournal and load


def test_memory_journal_numbers_records_from_one():
    journal = MemoryJournal()
    journal.append(HEADER)
    journal.append(ROLLOUT, durable=True)
    journal.close()
    assert list(journal.read()) == [(1, HEADER), (2, ROLLOUT)] and journal.source == "the in-memory journal"


def test_load_indexes_rollouts_reflections_and_commits():
    journal = MemoryJournal()
    records = [HEADER, ROLLOUT, {"type": "reflection", "seq": "3", "texts": {"a": "x"}},
               {"type": "commit", "seq": 3, "status": "accepted"}, {"type": "run_finished"}]
    for r in records:
        journal.append(r)
    contents = load(journal)
    assert contents.header == HEADER and contents.num_records == len(records) and contents.torn_tail is None
    recorded = contents.rollouts[RolloutKey("abc", "train", 2)]
    assert list(contents.rollouts) == [RolloutKey("abc", "train", 2)]
    assert (recorded.score, recorded.feedback, recorded.payload.get("output")) == (0.5, None, None)
    assert list(contents.reflections) == [3] and list(contents.commits) == [3]


def test_load_keeps_the_file_journals_torn_tail(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(lines(HEADER) + "{")
    assert read_journal(path).torn_tail == "{"


@pytest.mark.parametrize("records,message", [
    ([[1, 2, 3]], "does not start with a journal header (line 1: TypeError: list indices must be integers"),
    ([ROLLOUT], "does not start with a journal header (line 1: ValueError: no header before it)"),
    ([HEADER, HEADER], "line 2 is not a journal record (ValueError: a second header)"),
    ([HEADER, {"type": "rollout", "seq": 3}], "line 2 is not a journal record (KeyError: 'key')"),
    ([HEADER, {**ROLLOUT, "score": "high"}],
     "line 2 is not a journal record (ValueError: could not convert string to float: 'high')"),
    ([HEADER, {"type": "commit", "seq": None}], "line 2 is not a journal record (TypeError: "),
    ([HEADER, {"seq": 1}], "line 2 is not a journal record (KeyError: 'type')"),
])
def test_records_that_are_not_ours_are_refused_with_the_line(records, message):
    journal = MemoryJournal("the test journal")
    for r in records:
        journal.append(r)
    with pytest.raises(JournalError) as info:
        load(journal)
    assert str(info.value).startswith(f"the test journal{': ' if message.startswith('line') else ' '}{message}")
    assert str(info.value).endswith("this file was not written by dspy-gepa, or was edited. Move it away, or use a "
                                    "new log_dir.")


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, "1", None])
def test_a_format_this_version_cannot_read_is_refused(version):
    journal = MemoryJournal()
    journal.append({**HEADER, "version": version})
    with pytest.raises(JournalError, match=re.escape(
            f"the in-memory journal was written in journal format {version!r}; this dspy-gepa reads format "
            f"{FORMAT_VERSION}. Upgrade dspy-gepa or use a new log_dir.")):
        load(journal)


def test_a_header_without_version_is_read_as_the_current_format():
    journal = MemoryJournal()
    journal.append({"type": "header", "fingerprint": {}})
    assert load(journal).header == {"type": "header", "fingerprint": {}}


# ---------------------------------------------------------------- fingerprints


def test_check_fingerprint_names_every_difference(tmp_path):
    check_fingerprint({"a": 1, "b": [2]}, {"b": [2], "a": 1}, tmp_path / "journal.jsonl")
    with pytest.raises(JournalMismatchError) as info:
        check_fingerprint({"seed": 0, "x": "same", "old": True}, {"seed": 1, "x": "same", "new": "y"},
                          tmp_path / "journal.jsonl")
    assert str(info.value) == (
        f"The journal in {tmp_path} was written by a run with a different configuration (new: journal has None, "
        "this run has 'y'; old: journal has True, this run has None; seed: journal has 0, this run has 1). Resume "
        "with the same program, data and settings, or use a new log_dir.")


def test_check_fingerprint_cuts_long_values(tmp_path):
    with pytest.raises(JournalMismatchError) as info:
        check_fingerprint({"k": "x" * 200}, {"k": "y"}, tmp_path / "journal.jsonl")
    assert f"k: journal has '{'x' * 79}, this run has 'y'" in str(info.value)


def test_run_fingerprint_holds_settings_seed_data_and_extras():
    codec = JsonCodec()
    train, val = [{"id": 1}, {"id": 2}], [{"id": 3}]
    fp = run_fingerprint({"seed": 0}, {"b": "B", "a": "A"}, train, val, codec, {"metric": "m"})
    assert fp["seed"] == 0 and fp["metric"] == "m" and fp["components"] == ["b", "a"]
    assert fp["trainset"].startswith("2:") and fp["valset"].startswith("1:")
    same = run_fingerprint({"seed": 0}, {"a": "A", "b": "B"}, list(train), list(val), codec, {"metric": "m"})
    assert same["seed_candidate"] == fp["seed_candidate"] and same["trainset"] == fp["trainset"]
    assert run_fingerprint({}, {"a": "A"}, train[::-1], val, codec, {})["trainset"] != fp["trainset"]
    assert run_fingerprint({}, {"a": "A2"}, train, val, codec, {})["seed_candidate"] != \
        run_fingerprint({}, {"a": "A"}, train, val, codec, {})["seed_candidate"]


# ---------------------------------------------------------------- the recorder


def test_the_recorder_writes_a_header_once_and_skips_replayed_events():
    journal = MemoryJournal()
    recorder = JournalRecorder(journal, JsonCodec())
    recorder.start({"seed": 0}, None)
    recorder.start({"seed": 0}, HEADER)
    rollout = ev.RolloutFinished(key=RolloutKey("h", "val", 4), rollout=Rollout(score=math.nan, output={"o": 1}),
                                 seq=2)
    recorder(rollout)
    recorder(ev.RolloutFinished(key=RolloutKey("h", "val", 5), rollout=Rollout(score=1.0), seq=2, replayed=True))
    recorder(ev.BudgetUpdated(used=1, max_metric_calls=10, reserved=3))  # not a journal record
    records = [r for _, r in journal.read()]
    assert records[0] == {"type": "header", "version": FORMAT_VERSION, "fingerprint": {"seed": 0}}
    assert records[1:] == [{"type": "rollout", "key": ["h", "val", 4], "seq": 2, "score": "nan", "feedback": None,
                            "error": None, "usage": None, "output": {"o": 1}, "trajectory": None}]
    assert journal_record(rollout, JsonCodec()) == records[1]


def test_a_run_failure_that_cannot_be_recorded_is_only_logged(caplog):
    class Broken(MemoryJournal):
        def append(self, record, *, durable=False):
            raise JournalError("disk full")

    recorder = JournalRecorder(Broken(), JsonCodec())
    with caplog.at_level(logging.WARNING):
        recorder(ev.RunFailed(error=RuntimeError("boom"), total_metric_calls=3))
    assert "Could not record the failure in the journal: disk full" in caplog.text
    with pytest.raises(JournalError, match="disk full"):
        recorder(ev.UsageRecorded(usage={}, reason="pre-flight checks"))
