"""Reading a ``log_dir`` journal (:mod:`dspy_gepa.engine.journal` writes it): streamed line by line,
every record checked to be one of ours, and indexed for replay (:func:`load`) or handed on for reports
(:func:`read_records`). A long run's journal holds tens of thousands of rollouts whose payloads (outputs,
trajectories) replay and reports mostly never read, so they are kept encoded or not parsed at all.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from dspy_gepa.engine.journal import FORMAT_VERSION, FileJournal, JournalBackend
from dspy_gepa.engine.types import RolloutKey
from dspy_gepa.exceptions import JournalError, JournalMismatchError


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Read a journal without the cyclic garbage collector: its records are trees (freed by reference
    counting), and the collector's full passes over the program's heap (DSPy's modules and, at the end of
    a run, every recorded rollout) would otherwise take a third of the reading time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Payload:
    """A recorded rollout's output and trajectory, kept encoded until someone needs them: the raw journal
    line (parsed again on demand) or, for an in-memory journal, the record itself. A resumed run replays
    thousands of rollouts whose payloads it never reads; only a reflection on a replayed rollout does."""

    __slots__ = ("_line", "_record")

    def __init__(self, line: bytes | None = None, record: dict[str, Any] | None = None):
        self._line = line
        self._record = record

    def get(self, name: str) -> Any:
        """The encoded ``output`` or ``trajectory`` (None when the rollout has none)."""
        record = self._record if self._record is not None else orjson.loads(self._line)  # type: ignore[arg-type]
        return record.get(name)


@dataclass(slots=True)
class RecordedRollout:
    """What replay needs of a ``rollout`` record: its result, and its payload when one may be read."""

    score: float
    feedback: str | None = None
    error: str | None = None
    usage: dict[str, Any] | None = None
    payload: Payload | None = None
    objectives: dict[str, float] | None = None


@dataclass
class JournalContents:
    """What a journal holds, indexed for replay: rollouts without the payloads replay does not need,
    reflections, the sequence numbers of committed proposals, and the usage recorded outside proposals."""

    header: dict[str, Any] | None = None
    rollouts: dict[RolloutKey, RecordedRollout] = field(default_factory=dict)
    reflections: dict[int, dict[str, Any]] = field(default_factory=dict)
    commits: set[int] = field(default_factory=set)
    usage: list[dict[str, Any]] = field(default_factory=list)
    num_records: int = 0
    torn_tail: str | None = None


#: Where a rollout line's payload begins: the writer puts ``output`` and ``trajectory`` after the other fields.
_PAYLOAD = b', "output": '
#: A field that journals written before that order may have after the payload.
_LATE = b', "objectives": '
_HEAD_FIELDS = frozenset(("type", "key", "score", "feedback", "error", "usage"))


def _head(line: bytes, splits: tuple[str, ...]) -> dict[str, Any] | None:
    """A rollout line of one of ``splits`` without its payload (most of a long run's bytes, not parsed, so not
    checked either), or None when the line is not one laid out that way. The cut is at the top level whenever
    what precedes it parses as an object (inside a string the quote of ``"output"`` would be escaped; inside a
    nested object a brace would stay open)."""
    cut = line.find(_PAYLOAD)
    if cut < 0 or line.find(_LATE, cut) >= 0:
        return None
    try:
        head = orjson.loads(line[:cut] + b"}")
    except orjson.JSONDecodeError:
        return None
    if isinstance(head, dict) and _HEAD_FIELDS <= head.keys() and head["type"] == "rollout":
        key = head["key"]
        if isinstance(key, list) and len(key) == 3 and key[1] in splits:
            return head
    return None


def records(journal: JournalBackend, *, payloads: bool = True) -> Iterator[dict[str, Any]]:
    """The records of ``journal`` in order, streamed and checked (see :func:`load`); without ``payloads``,
    rollout records may come without their ``output`` and ``trajectory`` (faster to read)."""
    for _, record, _ in _checked(journal, () if payloads else ("train", "val")):
        yield record


def _checked(journal: JournalBackend, heads: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any], bytes | None]]:
    """``(line number, record, raw line)`` for every record, checked to be one of ours, streamed; the raw
    line only from a file, and rollout records of the splits in ``heads`` without their payload (still in
    the line). One loop, as a long run's journal has tens of thousands of lines."""
    where = journal.source
    count = 0
    if isinstance(journal, FileJournal):
        lines: Iterator[tuple[int, Any, bytes | None]] = (
            (n, _head(line, heads) if heads else None, line) for n, line in journal.lines())
    else:
        lines = ((n, record, None) for n, record in journal.read())
    for n, record, line in lines:
        if record is None:
            record = journal._parse(n, line)  # type: ignore[attr-defined, arg-type]
        try:
            kind = record["type"]
            if kind == "rollout" and count:
                _, _, e = record["key"]
                float(record["score"])
                int(e)
            elif kind == "header":
                if count:
                    raise ValueError("a second header")
                # Before any other record: a newer format may have record shapes this version cannot read.
                _check_version(record, where)
            elif not count:
                raise ValueError("no header before it")
            elif kind in ("reflection", "commit"):
                int(record["seq"])
        except (KeyError, TypeError, ValueError) as exc:
            prefix = f"{where} does not start with a journal header (line {n}: " if not count \
                else f"{where}: line {n} is not a journal record ("
            raise JournalError(f"{prefix}{type(exc).__name__}: {exc}); this file was not written by dspy-gepa, or "
                               "was edited. Move it away, or use a new log_dir.") from exc
        count += 1
        yield n, record, line


def _check_version(header: dict[str, Any], where: str) -> None:
    version = header.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise JournalError(f"{where} was written in journal format {version!r}; this dspy-gepa reads format "
                           f"{FORMAT_VERSION}. Upgrade dspy-gepa or use a new log_dir.")


def load(journal: JournalBackend, *, val_outputs: bool = False) -> JournalContents:
    """Read and index every record of ``journal``, streaming it; a record that is not one of ours is an error.

    Rollout payloads are kept encoded (:class:`Payload`) for training rollouts, whose trajectories a later
    reflection may read, and for validation rollouts only when ``val_outputs`` (``track_best_outputs``); the
    other validation rollouts' payloads are not even parsed. Everything else a record holds beyond what
    replay needs is dropped as it is read."""
    contents = JournalContents()
    with paused_gc():
        _index(contents, journal, val_outputs)
    contents.torn_tail = getattr(journal, "torn_tail", None)
    return contents


def _index(contents: JournalContents, journal: JournalBackend, val_outputs: bool) -> None:
    for _, record, line in _checked(journal, () if val_outputs else ("val",)):
        contents.num_records += 1
        kind = record["type"]
        if kind == "header":
            contents.header = record
        elif kind == "rollout":
            c, s, e = record["key"]
            keep = s == "train" or val_outputs
            payload = (Payload(line=line) if line is not None else Payload(record=record)) if keep else None
            contents.rollouts[RolloutKey(c, s, int(e))] = RecordedRollout(
                float(record["score"]), record.get("feedback"), record.get("error"), record.get("usage"), payload,
                record.get("objectives"))
        elif kind == "reflection":
            contents.reflections[int(record["seq"])] = record
        elif kind == "commit":
            contents.commits.add(int(record["seq"]))
        elif kind == "usage":
            contents.usage.append(record)


def read_journal(path: str | os.PathLike, *, val_outputs: bool = False) -> JournalContents:
    """:func:`load` the journal file at ``path`` (nothing, if there is no file yet)."""
    return load(FileJournal(path), val_outputs=val_outputs)


def read_header(path: str | os.PathLike) -> dict[str, Any] | None:
    """The header of the journal file at ``path`` (None without a file or a header), read from its first
    line only."""
    for _, record, _ in _checked(FileJournal(path), ()):
        return record if record["type"] == "header" else None
    return None


def read_records(path: str | os.PathLike, *, payloads: bool = True) -> Iterator[dict[str, Any]]:
    """The records of the journal file at ``path``, streamed (nothing, if there is no file yet); see
    :func:`records` for ``payloads``."""
    return records(FileJournal(path), payloads=payloads)


def check_fingerprint(stored: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    differing = sorted(k for k in stored.keys() | current.keys() if stored.get(k) != current.get(k))
    if differing:
        details = "; ".join(f"{k}: journal has {stored.get(k)!r:.80}, this run has {current.get(k)!r:.80}"
                            for k in differing)
        raise JournalMismatchError(
            f"The journal in {path.parent} was written by a run with a different configuration ({details}). "
            "Resume with the same program, data and settings, or use a new log_dir."
        )
