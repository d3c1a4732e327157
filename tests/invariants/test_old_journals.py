"""Journals written by dspy-gepa 0.1 (before the layout renovation) still resume.

``data/journal-0.1.0.jsonl`` was written by commit d6f961e (the last 0.1 layout) running
:func:`dspy_run.optimize` with ``budget=140`` and a ``log_dir``; the scenario is this directory's, so the
fingerprint matches. A resume must replay it without any task-LM call and end where a fresh run ends.
"""

from __future__ import annotations

from pathlib import Path

from ..helpers import task_lm
from .dspy_run import key, optimize

OLD_JOURNAL = Path(__file__).parent / "data" / "journal-0.1.0.jsonl"


def _log_dir(tmp_path: Path, lines: int | None = None) -> Path:
    log_dir = tmp_path / "run"
    log_dir.mkdir()
    text = OLD_JOURNAL.read_text(encoding="utf-8")
    if lines is not None:
        text = "".join(text.splitlines(keepends=True)[:lines])
    (log_dir / "journal.jsonl").write_text(text, encoding="utf-8")
    return log_dir


def test_a_finished_0_1_journal_resumes_without_lm_calls(tmp_path):
    lm = task_lm()
    resumed = optimize(_log_dir(tmp_path), task=lm, budget=140)
    assert lm.engine.calls == []
    assert key(resumed) == key(optimize(budget=140))


def test_an_interrupted_0_1_journal_resumes_to_the_same_end(tmp_path):
    lm = task_lm()
    log_dir = _log_dir(tmp_path, lines=50)
    with (log_dir / "journal.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"type": "rollout", "key": ["abc", "tr')  # a torn last line, as a killed run leaves
    resumed = optimize(log_dir, task=lm, budget=140)
    fresh_lm = task_lm()
    fresh = optimize(budget=140, task=fresh_lm)
    assert key(resumed) == key(fresh)
    assert 0 < len(lm.engine.calls) < len(fresh_lm.engine.calls)

