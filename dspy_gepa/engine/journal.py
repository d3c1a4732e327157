"""The ``log_dir`` journal: an append-only JSON-lines record of everything a run paid for.

Each rollout and each reflection is written the moment its result arrives, so a run killed at any
point loses at most the work that was still in flight. A resumed run replays the optimization from
the start with those recorded results standing in for LM calls: since every decision is a
deterministic function of the seed and the recorded results, it reaches exactly the state the
interrupted run had, RNG and sampler included, without any snapshot of that state, and then goes on
live. (Snapshots would only save the replay's bookkeeping time, which is small next to one LM call.)

Records are JSON objects with a ``type``:
``header`` (first line: format version and configuration fingerprint), ``rollout``, ``reflection``,
``candidate``, ``validated`` (a screened candidate's scores on the whole valset), ``commit`` (with the
proposal's LM usage and the run's cost so far), ``usage`` (LM usage outside proposals: pre-flight
checks), ``run_started``, ``run_finished``, ``run_failed``.

This module writes the journal (and defines its backends); :mod:`dspy_gepa.engine.replay` reads it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import orjson

from dspy_gepa._redact import redact
from dspy_gepa._run_dir import JOURNAL, WriterLock
from dspy_gepa.engine import events as ev
from dspy_gepa.engine.types import candidate_hash
from dspy_gepa.exceptions import JournalError

logger = logging.getLogger(__name__)

#: Kept for callers of the 0.1 layout; the name lives in :mod:`dspy_gepa._run_dir`.
JOURNAL_NAME = JOURNAL
FORMAT_VERSION = 1


def _finite(x: float) -> float | str:
    return x if math.isfinite(x) else repr(x)


class JournalBackend(Protocol):
    """Where journal records are kept: read them all back in order, append one.

    :class:`FileJournal` (a ``log_dir``'s JSON-lines file) and :class:`MemoryJournal` (a list, for runs
    without ``log_dir``) implement it. ``source`` names the journal in error messages."""

    source: str

    def read(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(line number, record)`` for every complete record, in order."""
        ...

    def append(self, record: dict[str, Any], *, durable: bool = False) -> None: ...

    def close(self) -> None: ...


class MemoryJournal:
    """Records kept in a list (thread-safe appends)."""

    def __init__(self, source: str = "the in-memory journal") -> None:
        self.source = source
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def read(self) -> Iterator[tuple[int, dict[str, Any]]]:
        with self._lock:
            records = list(self.records)
        yield from enumerate(records, 1)

    def append(self, record: dict[str, Any], *, durable: bool = False) -> None:
        with self._lock:
            self.records.append(record)

    def close(self) -> None:
        pass


def parse_line(line: bytes) -> Any:
    """One journal line as JSON: with orjson (a dependency of DSPy), several times faster than ``json`` on
    the many small records of a long run; ``json`` reads what orjson refuses (NaN written by hand) and
    raises :class:`json.JSONDecodeError` for what neither reads."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


class FileJournal:
    """An append-only JSON-lines file. Reading tolerates a torn last line (the process died mid-write;
    it is kept in ``torn_tail``); any other corrupt line is an error, since the records after it could
    not be trusted.

    Writing: :meth:`lock` takes the ``log_dir``'s writer lock (:class:`~dspy_gepa._run_dir.WriterLock`),
    so a second run on the same ``log_dir`` is refused before it reads or spends anything; :meth:`open`
    (under the lock) drops a torn tail and opens the file for appends; :meth:`close` releases the lock.
    Each record is one unbuffered write of a whole line. When a write fails or comes up short (a full
    disk), the file is cut back to the end of the last whole line before the error is raised, and if
    even that fails nothing more is written: a journal only ever ends in whole lines, or in one torn
    line that the next run drops."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.source = str(self.path)
        self.torn_tail: str | None = None
        self._writer: WriterLock | None = None
        self._fd: int | None = None
        self._end = 0  # bytes of whole lines in the file
        self._broken: str | None = None  # why nothing more may be written
        self._lock = threading.Lock()

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """``(line number, raw JSON line)`` for every complete line, streamed from the file (a journal may be
        larger than what is worth holding in memory at once)."""
        self.torn_tail = None
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            for n, line in enumerate(f, 1):
                if not line.endswith(b"\n"):
                    # Every complete record ends with a newline; bytes after the last one are a cut-off write.
                    if line.strip():
                        self.torn_tail = line.decode("utf-8", errors="replace")
                    return
                if line.strip():
                    yield n, line

    def read(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for n, line in self.lines():
            yield n, self._parse(n, line)

    def _parse(self, n: int, line: bytes) -> dict[str, Any]:
        try:
            return parse_line(line)
        except json.JSONDecodeError as exc:
            raise JournalError(f"{self.path}: line {n} is corrupt ({exc}); the journal cannot be replayed. "
                               "Restore it from a backup, or use a new log_dir.") from exc

    def lock(self) -> None:
        """Take the writer lock of the journal's directory (creating it); a held lock is a :class:`JournalError`."""
        if self._writer is not None:
            return
        writer = WriterLock(self.path.parent)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer.acquire()
        except OSError as exc:
            raise self._unwritable(exc) from exc
        self._writer = writer

    def open(self) -> None:
        """Make the file ready for appends (taking the lock first if need be), dropping a torn last line."""
        self.lock()
        try:
            if self.path.exists():
                self._drop_torn_tail()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            self._end = os.fstat(self._fd).st_size
        except OSError as exc:
            raise self._unwritable(exc) from exc

    def _unwritable(self, exc: OSError) -> JournalError:
        return JournalError(f"Cannot write the journal in log_dir={str(self.path.parent)!r}: {exc}. "
                            "Pick a writable directory.")

    def _drop_torn_tail(self) -> None:
        raw = self.path.read_bytes()
        cut = raw.rfind(b"\n") + 1
        if cut == len(raw):
            return
        logger.warning("The last line of %s was torn by an interruption (%d bytes); it is dropped and the "
                       "work it described will be redone.", self.path, len(raw) - cut)
        with open(self.path, "r+b") as f:
            f.truncate(cut)

    def append(self, record: dict[str, Any], *, durable: bool = False) -> None:
        line = (json.dumps(record, ensure_ascii=False, default=repr, allow_nan=False) + "\n").encode("utf-8")
        with self._lock:
            if self._broken is not None:
                raise JournalError(f"Cannot append to the journal {self.path}: {self._broken}. Make room (or fix the "
                                   "permissions) and run again with the same log_dir to resume.")
            try:
                self._write(line)
                if durable:
                    os.fsync(self._fd)
            except OSError as exc:
                self._cut_back(exc)
                # Paid work that cannot be recorded would be lost, so the run stops here.
                raise JournalError(f"Cannot append to the journal {self.path}: {exc}. The run stops so that no "
                                   "paid work goes unrecorded; make room (or fix the permissions) and run again "
                                   "with the same log_dir to resume.") from exc
            self._end += len(line)

    def _write(self, data: bytes) -> None:
        """All of ``data`` at the end of the file (one write may take only part of it)."""
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def _cut_back(self, exc: OSError) -> None:
        """After a failed write: drop whatever part of the line reached the file, or write nothing more."""
        try:
            os.ftruncate(self._fd, self._end)
        except OSError as cut_exc:
            self._broken = f"an earlier write failed ({exc}) and its partial line could not be removed ({cut_exc})"
            logger.error("The journal %s ends with a partial line that could not be removed (%s); nothing more is "
                         "written to it. The next run drops that line.", self.path, cut_exc)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self._writer is not None:
                self._writer.release()
                self._writer = None


class JournalRecorder:
    """Critical event subscriber that appends each event's record to a journal backend (replayed events
    are already there). A failure to record the run's own failure is only logged: the run's error
    matters more than this note about it."""

    def __init__(self, journal: JournalBackend, codec: Any):
        self.journal = journal
        self.codec = codec

    def start(self, fingerprint: dict[str, Any], existing_header: dict[str, Any] | None) -> None:
        """Write the header, unless the journal already has one (``existing_header``)."""
        if existing_header is None:
            self.journal.append({"type": "header", "version": FORMAT_VERSION, "fingerprint": fingerprint})

    def __call__(self, event: ev.Event) -> None:
        if event.replayed:
            return
        record = journal_record(event, self.codec)
        if record is None:
            return
        durable = record["type"] in DURABLE_TYPES
        if record["type"] != "run_failed":
            self.journal.append(record, durable=durable)
            return
        try:
            self.journal.append(record, durable=durable)
        except JournalError as exc:
            logger.warning("Could not record the failure in the journal: %s", exc)

    def close(self) -> None:
        self.journal.close()


#: Records flushed to disk with fsync (the others are flushed, which survives a killed process).
DURABLE_TYPES = ("commit", "run_finished", "run_failed")


def journal_record(event: ev.Event, codec: Any) -> dict[str, Any] | None:
    """The journal record for ``event`` (None for events the journal does not keep). ``codec`` turns
    rollout outputs and trajectories into JSON."""
    if isinstance(event, ev.RolloutFinished):
        r = event.rollout
        # The payload (output, trajectory) comes last: readers that do not need it stop parsing there.
        return {"type": "rollout", "key": event.key.as_list(), "seq": event.seq, "score": _finite(r.score),
                "feedback": r.feedback, "error": r.error, "usage": r.usage,
                **({"objectives": r.objectives} if r.objectives else {}),
                "output": codec.encode_output(r.output),
                "trajectory": codec.encode_trajectory(r.trajectory) if r.trajectory is not None else None}
    if isinstance(event, ev.ReflectionFinished):
        return {"type": "reflection", "seq": event.seq, "parent": event.parent_hash, "components": event.components,
                "texts": event.new_texts, "error": event.error, "usage": event.usage}
    if isinstance(event, ev.CandidateAdded):
        return {"type": "candidate", "idx": event.idx, "hash": event.candidate_hash, "texts": event.candidate,
                "parents": event.parent_ids, "seq": event.seq, "kind": event.kind, "val_mean": event.val_mean,
                "discovered_at": event.discovered_at,
                "val_scores": {str(k): _finite(v) for k, v in event.val_scores.items()},
                **({"objectives": event.objective_scores} if event.objective_scores else {})}
    if isinstance(event, ev.UsageRecorded):
        return {"type": "usage", "usage": event.usage, "reason": event.reason}
    if isinstance(event, ev.CandidateValidated):
        return {"type": "validated", "idx": event.idx, "val_mean": event.val_mean,
                "val_scores": {str(k): _finite(v) for k, v in event.val_scores.items()},
                **({"objectives": event.objective_scores} if event.objective_scores else {})}
    if isinstance(event, ev.ProposalCommitted):
        o = event.outcome
        return {"type": "commit", "seq": event.seq, "kind": event.kind, "status": o.status, "reason": o.reason,
                "parents": event.parent_ids, "components": o.components, "parent_scores": o.parent_scores,
                "child_scores": o.child_scores, "new_idx": event.new_candidate_idx,
                "metric_calls": event.metric_calls, "usage": event.usage, "total_cost": event.total_cost}
    if isinstance(event, ev.RunStarted):
        return {"type": "run_started", "resumed": event.resumed, "config": event.config,
                "max_metric_calls": event.max_metric_calls, "train_size": event.train_size,
                "val_size": event.val_size, "plan": event.plan, "seed_candidate": event.seed_candidate}
    if isinstance(event, ev.RunFinished):
        return {"type": "run_finished", "best_idx": event.best_idx, "best_val_mean": event.best_val_mean,
                "total_metric_calls": event.total_metric_calls, "num_candidates": event.num_candidates,
                "stop_reason": event.stop_reason}
    if isinstance(event, ev.RunFailed):
        return {"type": "run_failed", "error": redact(f"{type(event.error).__name__}: {event.error}"),
                "total_metric_calls": event.total_metric_calls}
    return None


def run_fingerprint(config: dict[str, Any], seed_candidate: dict[str, str], trainset: list[Any],
                    valset: list[Any], codec: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """What a journal must have been written with to be replayed: the engine's decision settings, the
    seed candidate, the data (a digest of each example as the codec fingerprints it) and ``extra``."""

    def digest(examples: list[Any]) -> str:
        h = hashlib.sha256()
        for ex in examples:
            h.update(codec.example_fingerprint(ex).encode("utf-8", errors="replace"))
            h.update(b"\x00")
        return h.hexdigest()[:20]

    return {
        **config,
        "components": list(seed_candidate),
        "seed_candidate": candidate_hash(seed_candidate),
        "trainset": f"{len(trainset)}:{digest(trainset)}",
        "valset": f"{len(valset)}:{digest(valset)}",
        **extra,
    }
