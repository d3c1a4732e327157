"""Journal records of the current run, for the report: from ``log_dir/journal.jsonl`` when there is one,
kept in an in-memory journal otherwise.

The in-memory records are written by the engine's own :class:`~dspy_gepa.engine.journal.JournalRecorder`
into a :class:`~dspy_gepa.engine.journal.MemoryJournal`, so the report reads exactly the journal's format
whichever way the records came. Rollout outputs and trajectories are not kept (the report does not show
them), only scores, feedback and usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dspy_gepa._run_dir import journal_path
from dspy_gepa.engine import events as ev
from dspy_gepa.engine.journal import JournalRecorder, MemoryJournal, journal_record
from dspy_gepa.engine.replay import read_records

TERMINAL_TYPES = ("run_finished", "run_failed")


class _NoPayload:
    """Codec stand-in that drops outputs and trajectories."""

    def encode_output(self, output: Any) -> None:
        return None

    def encode_trajectory(self, trajectory: Any) -> None:
        return None


def record_of(event: ev.Event) -> dict[str, Any] | None:
    """The journal record the engine writes for ``event`` (``None`` for events it does not journal)."""
    return None if event.replayed else journal_record(event, _NoPayload())


class RunRecords:
    """The records of the run in progress: an event subscriber plus :meth:`records`.

    With a ``log_dir`` the journal file is the source (it also holds earlier sessions of a resumed
    run), streamed each time it is read; the terminal event is appended when the file does not have it
    yet, because the engine's journal writer receives each event after the tracking subscribers.
    """

    def __init__(self, log_dir: str | Path | None):
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self._memory = MemoryJournal() if self.log_dir is None else None
        self._recorder = JournalRecorder(self._memory, _NoPayload()) if self._memory is not None else None
        self._terminal: dict[str, Any] | None = None
        # With a journal file only the run's start and end matter here; in memory every event is recorded.
        self.events = (ev.RunStarted, ev.RunFinished, ev.RunFailed) if self._memory is None else None

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self._terminal = None
        if isinstance(event, ev.RunFinished | ev.RunFailed):
            self._terminal = record_of(event)
        if self._recorder is not None:
            self._recorder(event)

    def records(self) -> Iterator[dict[str, Any]]:
        if self._memory is not None:
            yield from (record for _, record in self._memory.read())
            return
        last = None
        for last in read_records(journal_path(self.log_dir), payloads=False):
            yield last
        if self._terminal is not None and (last is None or last.get("type") not in TERMINAL_TYPES):
            yield self._terminal
