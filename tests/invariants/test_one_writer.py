"""Invariant 6 (DESIGN.md), one writer, whole lines: a ``log_dir`` has one writer at a time (a lock, released by
death), and a failed or short write never leaves a broken line anywhere but at the end of the journal; a resumed
run drops that last line and redoes the work it described.

Kills in the middle of writing each record type (each kill also leaves a lock behind that the next session must
not be blocked by) are the slow ``tests/faults/test_kill_resume.py``; ``FileJournal``'s reading, cutting back
after a failed write and locking are unit-tested in ``tests/engine/test_journal.py``.
"""

import dataclasses
import errno
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dspy_gepa import JournalError
from dspy_gepa.engine import Engine, EngineConfig, EventBus
from dspy_gepa.engine import events as ev
from dspy_gepa.engine import journal as journal_module
from dspy_gepa.engine.journal import JOURNAL_NAME

from ..engine.fakes import FakeAdapter, make_data, run, summary
from ..helpers import reflection_lm, task_lm
from .dspy_run import key, optimize


def whole_lines(path):
    """The journal's records; fails unless every line, the last included, is a whole JSON record."""
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), "the journal ends in a partial line"
    return [json.loads(line) for line in raw.split(b"\n")[:-1]]


# ---------------------------------------------------------------- whole lines


def test_torn_last_journal_line_is_tolerated(tmp_path, caplog):
    reference = optimize(budget=100)
    optimize(tmp_path, budget=100)
    path = tmp_path / JOURNAL_NAME
    lines = path.read_text().splitlines(keepends=True)
    cut = next(i for i in range(len(lines) - 1, 0, -1) if '"type": "rollout"' in lines[i])
    path.write_text("".join(lines[:cut]) + lines[cut][: len(lines[cut]) // 2])
    resumed = optimize(tmp_path, budget=100)
    assert key(resumed) == key(reference)
    assert "torn" in caplog.text


def test_disk_full_mid_run_stops_naming_the_journal_and_resumes(tmp_path, monkeypatch):
    """The journal cannot be appended to (ENOSPC after 40 lines, the 41st written in part): the run stops at
    once — paid work that cannot be recorded would be lost — with the part cut off, and resumes once there is
    room."""
    original = journal_module.FileJournal._write
    written = {"n": 0}

    def write(self, data):
        written["n"] += 1
        if written["n"] > 40:
            original(self, data[:10])  # a partial line, as a full disk leaves it
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, data)

    monkeypatch.setattr(journal_module.FileJournal, "_write", write)
    with pytest.raises(JournalError) as info:
        optimize(tmp_path, budget=100)
    message = str(info.value)
    assert f"Cannot append to the journal {tmp_path / JOURNAL_NAME}: [Errno 28] No space left on device" in message
    assert "run again with the same log_dir to resume" in message
    assert len(whole_lines(tmp_path / JOURNAL_NAME)) == 40
    monkeypatch.setattr(journal_module.FileJournal, "_write", original)
    resumed = optimize(tmp_path, budget=100).detailed_results
    assert resumed.candidate_texts == optimize(budget=100).detailed_results.candidate_texts


PAYLOAD = "x" * 60_000  # a chatty program's output: every rollout record is about 60 kB


class ChattyAdapter(FakeAdapter):
    def evaluate(self, batch, candidate, capture_traces=False):
        result = super().evaluate(batch, candidate, capture_traces)
        return dataclasses.replace(result, outputs=[{**o, "text": PAYLOAD} for o in result.outputs])


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MB tmpfs (the fault tests run as root in CI); skipped where mounting is not permitted."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_brief_disk_full_leaves_whole_lines_and_the_run_resumes(small_disk):
    """A real full disk (tmpfs) with large records: a record is written in part, then the disk has room again
    (another program freed space) while the run records its failure. The part must not stay in the middle of the
    journal, glued to the next record: the journal keeps whole lines only and resumes to the uninterrupted end."""
    reference = summary(run(ChattyAdapter(), budget=60)[0])
    filler = small_disk / "filler"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler.write_bytes(b"\0" * (free - 1_000_000))  # about 16 rollout records of room left
    log_dir = small_disk / "run"
    train, val = make_data()
    bus = EventBus()
    bus.subscribe(lambda event: filler.unlink() if isinstance(event, ev.RunFailed) else None)
    engine = Engine(ChattyAdapter(), train, val, {"a": "Solve a."}, EngineConfig(max_metric_calls=60), bus=bus,
                    log_dir=log_dir)
    with pytest.raises(JournalError, match=r"\[Errno 28\] No space left on device"):
        engine.run()
    records = whole_lines(log_dir / JOURNAL_NAME)
    assert records[-1]["type"] == "run_failed" and "No space left on device" in records[-1]["error"]
    assert 10 < sum(r["type"] == "rollout" for r in records) < 20
    assert summary(run(ChattyAdapter(), budget=60, log_dir=log_dir)[0]) == reference


def test_a_failed_write_is_not_flushed_later_into_a_resumed_journal(tmp_path):
    """Engine level, in one process (a notebook that reruns the cell once there is room on the disk, keeping
    the failed run's exception and traceback): a real short write (the file-size limit of the process) is cut
    back, and the failed run has closed its journal — released the log_dir, and will write nothing more into it,
    whenever it is garbage-collected — so the rerun resumes."""
    resource = pytest.importorskip("resource")
    run(budget=150, log_dir=tmp_path / "full")
    full_size = (tmp_path / "full" / JOURNAL_NAME).stat().st_size
    log_dir = tmp_path / "run"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (full_size // 2, hard))
    failed = []
    try:
        run(budget=150, log_dir=log_dir)
    except JournalError as exc:
        failed.append(exc)  # as an interactive session keeps the last error and its traceback
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert failed and "File too large" in str(failed[0])
    whole_lines(log_dir / JOURNAL_NAME)

    def forget_the_failure(view):
        if view.i == 5:
            failed.clear()
            gc.collect()
        return False

    run(budget=150, log_dir=log_dir, stop_callbacks=[forget_the_failure])
    whole_lines(log_dir / JOURNAL_NAME)


# ---------------------------------------------------------------- one writer

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys
from dspy_gepa.engine.journal import FileJournal
journal = FileJournal(sys.argv[1])
journal.open()  # takes the log_dir's lock, as a run does
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_second_writer_is_refused_naming_the_holder_before_anything_is_spent(tmp_path):
    """Another process is writing ``log_dir``: a run on it stops before the pre-flight check, naming that process.
    Once that process is killed, its lock does not block the next run."""
    optimize(tmp_path, budget=60)
    journal = (tmp_path / JOURNAL_NAME).read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / JOURNAL_NAME)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        task, reflection = task_lm(), reflection_lm()
        with pytest.raises(JournalError) as info:
            optimize(tmp_path, task=task, reflection=reflection, budget=100, preflight=True)
        assert str(info.value).startswith(f"log_dir={str(tmp_path)!r} is in use by another GEPA run (process "
                                          f"{holder.pid} on ")
        assert "wait for that run to end, or use another log_dir" in str(info.value)
        assert task.engine.calls == [] and reflection.engine.calls == []
        assert (tmp_path / JOURNAL_NAME).read_bytes() == journal
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert key(optimize(tmp_path, budget=100)) == key(optimize(budget=100))


def test_two_runs_started_at_once_on_one_log_dir(tmp_path):
    """One of them gets the log_dir and the other is refused at once; the journal stays one run's, which resumes."""
    start = threading.Barrier(2)
    outcomes = []

    def compile_now():
        start.wait()
        try:
            outcomes.append(key(optimize(tmp_path, budget=100)))
        except JournalError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=compile_now) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [o for o in outcomes if isinstance(o, JournalError)]
    assert len(errors) == 1 and f"(process {os.getpid()} on " in str(errors[0])
    assert "(this process)" in str(errors[0])
    reference = key(optimize(budget=100))
    assert [o for o in outcomes if not isinstance(o, JournalError)] == [reference]
    assert sum(r["type"] == "header" for r in whole_lines(tmp_path / JOURNAL_NAME)) == 1
    lm = task_lm()
    assert key(optimize(tmp_path, task=lm, budget=100)) == reference and lm.engine.calls == []


def test_a_holder_that_has_not_yet_written_its_name_is_still_named(tmp_path):
    """Between taking the lock and writing "pid host" into it, a holder is briefly anonymous; a second writer
    refused in that moment waits for the line instead of naming "process ? on ?"."""
    import fcntl

    from dspy_gepa._run_dir import LOCK, WriterLock

    fd = os.open(tmp_path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        late = threading.Timer(0.1, lambda: os.write(fd, b"4242 elsewhere\n"))
        late.start()
        with pytest.raises(JournalError, match=r"process 4242 on elsewhere"):
            WriterLock(tmp_path).acquire()
        late.join()
    finally:
        os.close(fd)
