"""The ``log_dir`` layout: the name of every file a run keeps there, and how they are written.

One home for these names, so the engine (journal), the optimizer (best program), tracking (report,
tracker state) and the CLI agree on them. Files other than the append-only journal are written whole:
to a temporary file in the same directory, then renamed over the old one, so a reader (or a run killed
mid-write) only ever sees a complete file; :func:`remove_stale_temp_files` deletes what such a killed
write left behind.

A ``log_dir`` has one writer at a time: :class:`WriterLock` (an exclusive ``flock`` on :data:`LOCK`, held
for the whole run). The operating system releases it when the process dies, however it dies, so a lock
left by a killed run never blocks the next one; a second writer is refused with the holder's process id.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dspy_gepa.exceptions import JournalError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

#: The append-only record of everything a run paid for (``dspy_gepa.engine.journal``).
JOURNAL = "journal.jsonl"
#: The best program so far, as ``program.save`` writes it (credentials masked).
BEST_PROGRAM = "best_program.json"
#: The HTML report (``dspy-gepa report``), written when a run ends.
REPORT = "report.html"
#: Which W&B / MLflow runs a resumed optimization logs into.
TRACKING_STATE = "tracking.json"
#: Creating this file stops the search gracefully (the best program found so far is returned), as with dspy.GEPA.
STOP_FILE = "gepa.stop"
#: Locked by the run writing the ``log_dir`` (:class:`WriterLock`); holds that process's id and host.
LOCK = "run.lock"

_TEMP_PREFIX = "."


def journal_path(log_dir: str | os.PathLike) -> Path:
    """The journal of ``log_dir``; a path that already names a journal file is returned as it is."""
    path = Path(log_dir)
    return path / JOURNAL if path.is_dir() or path.suffix != ".jsonl" else path


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None], *, mode: int | None = None) -> Path:
    """Have ``write(tmp)`` fill a temporary file beside ``path``, then rename it over ``path`` (with
    permission bits ``mode``, if given: temporary files start private)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_TEMP_PREFIX}{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text_atomically(path: str | os.PathLike, text: str, *, mode: int | None = None) -> Path:
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), mode=mode)


def remove_stale_temp_files(log_dir: str | os.PathLike) -> None:
    """Delete the temporary files that a run killed in the middle of :func:`write_atomically` left."""
    log_dir = Path(log_dir)
    for name in (BEST_PROGRAM, REPORT, TRACKING_STATE):
        stem, suffix = os.path.splitext(name)
        for path in log_dir.glob(f"{_TEMP_PREFIX}{stem}.*{suffix}"):
            logger.debug("Removing %s, left by an interrupted run.", path)
            with contextlib.suppress(OSError):
                path.unlink()


#: Descriptors of the locks this process holds: a child made by ``fork`` closes its copies at once, so a
#: lock lives exactly as long as the process that took it.
_held: set[int] = set()


def _close_inherited_locks() -> None:
    for fd in _held:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


def _holder(fd: int, wait: float = 0.5) -> list[str]:
    """The ``pid host`` line of the lock's holder. A holder that has just taken the lock writes it right after,
    so an empty or partial line is read again for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        line = os.pread(fd, 200, 0).decode("utf-8", errors="replace")
        if line.endswith("\n") or time.monotonic() >= deadline:
            return line.split()
        time.sleep(0.01)


class WriterLock:
    """The exclusive lock of a ``log_dir``'s writer (see the module docstring).

    :meth:`acquire` raises :class:`JournalError` naming the process that holds it. Once it is held, the
    temporary files an earlier writer left behind are removed (no other writer can be writing them).
    Where ``flock`` does not exist (Windows) nothing is locked, with a warning."""

    def __init__(self, log_dir: str | os.PathLike):
        self.log_dir = Path(log_dir)
        self.path = self.log_dir / LOCK
        self._fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None:
            logger.warning("%s cannot be locked on this platform: make sure no other run writes it at the same "
                           "time.", self.log_dir)
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = _holder(fd)
            finally:
                os.close(fd)
            pid, host = (holder + ["?", "?"])[:2]
            who = f"process {pid} on {host}" + (" (this process)" if pid == str(os.getpid()) else "")
            raise JournalError(
                f"log_dir={str(self.log_dir)!r} is in use by another GEPA run ({who}). Two runs writing one journal "
                "would make it unreadable: wait for that run to end, or use another log_dir.") from None
        except BaseException:
            os.close(fd)
            raise
        with contextlib.suppress(OSError):  # who holds the lock is only for other writers' messages
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        self._fd = fd
        _held.add(fd)
        remove_stale_temp_files(self.log_dir)

    def release(self) -> None:
        """Closing the descriptor releases the lock; the file stays (deleting it would race a new writer)."""
        if self._fd is not None:
            _held.discard(self._fd)
            os.close(self._fd)
            self._fd = None
