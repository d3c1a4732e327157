"""Following a journal as it grows: the records appended since the last look, folded into a :class:`RunView`.

:class:`JournalFollower` keeps the byte offset just past the last complete line it read and, on each
:meth:`~JournalFollower.poll`, reads only what was appended after it, so watching a long run costs as much
as the new records. A line without its newline is a write still in progress (or torn by a killed writer)
and is left for the next look. If the file is replaced or shrinks below the offset (a new run in the same
``log_dir``), the follower starts over from the beginning. The journal is only ever read, never locked,
so it works for a run in another process, on another machine's shared disk, or one that has ended.
"""

from __future__ import annotations

import json
import logging
import os

from dspy_gepa._run_dir import journal_path
from dspy_gepa.engine.journal import parse_line
from dspy_gepa.tracking.report.run_view import RunFolder, RunView

logger = logging.getLogger(__name__)

#: At most this many bytes are read per poll, so a first look at a huge journal is spread over several.
READ_CHUNK = 8 * 1024 * 1024


class JournalFollower:
    """The run in ``log_dir`` (or a journal file), read incrementally. Not thread-safe: one reader polls
    and reads the view (the live server does both under one lock).

    ``version`` changes whenever new records were folded (or the follower started over), so callers can
    tell whether anything changed since they last looked.
    """

    def __init__(self, log_dir: str | os.PathLike[str]):
        self.path = journal_path(log_dir)
        self.source = str(self.path.parent)
        self.version = 0
        self._reset()

    def _reset(self) -> None:
        self._folder = RunFolder(self.source)
        self._offset = 0
        self._inode: int | None = None
        self._bad_lines = 0
        self.version += 1

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def poll(self) -> bool:
        """Fold whatever was appended since the last poll (up to :data:`READ_CHUNK` bytes); True if anything
        changed."""
        start_version = self.version
        try:
            with open(self.path, "rb") as f:
                stat = os.fstat(f.fileno())
                if (self._inode is not None and stat.st_ino != self._inode) or stat.st_size < self._offset:
                    logger.info("%s was replaced or truncated; reading it again from the start.", self.path)
                    self._reset()
                self._inode = stat.st_ino
                f.seek(self._offset)
                read = 0
                for line in f:
                    if not line.endswith(b"\n"):
                        break  # a line still being written
                    self._offset += len(line)
                    read += len(line)
                    if line.strip():
                        self._fold(line)
                    if read >= READ_CHUNK:
                        break
        except FileNotFoundError:
            return False
        if read:
            self.version += 1
        return self.version != start_version

    def _fold(self, line: bytes) -> None:
        try:
            record = parse_line(line)
        except json.JSONDecodeError:
            # The engine refuses such a journal on resume; a viewer shows what it can and says so once.
            self._bad_lines += 1
            if self._bad_lines == 1:
                logger.warning("%s has a line that is not JSON (at byte %d); it is skipped.", self.path, self._offset)
            return
        self._folder.add(record)

    def view(self) -> RunView:
        """The run as read so far (call :meth:`poll` first to catch up)."""
        return self._folder.view()


def follow(log_dir: str | os.PathLike[str]) -> JournalFollower:
    """A :class:`JournalFollower` for ``log_dir``, caught up with the journal as it is now."""
    follower = JournalFollower(log_dir)
    while follower.poll():
        pass
    return follower


__all__ = ["READ_CHUNK", "JournalFollower", "follow"]
