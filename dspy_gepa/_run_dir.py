"""The ``log_dir`` layout: the name of every file a run keeps there, and how they are written.

One home for these names, so the engine (journal), the optimizer (best program), tracking (report,
tracker state) and the CLI agree on them. Files other than the append-only journal are written whole:
to a temporary file in the same directory, then renamed over the old one, so a reader (or a run killed
mid-write) only ever sees a complete file; :func:`remove_stale_temp_files` deletes what such a killed
write left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

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
