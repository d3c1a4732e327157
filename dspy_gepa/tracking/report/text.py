"""The run as a short plain-text summary for the terminal (``dspy-gepa show LOG_DIR``).

    >>> print(summary_text("runs/my_run"))
"""

from __future__ import annotations

import os

from dspy_gepa.tracking.report._format import fmt_cost, fmt_score
from dspy_gepa.tracking.report.run_view import RunView, load_run


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_text(run: RunView, *, instructions: bool = True, width: int = 100) -> str:
    """A short plain-text summary for the terminal."""
    best, seed = run.best, run.seed
    status = {"finished": f"finished: {run.stop_reason or ''}", "failed": f"failed: {run.error or ''}",
              "running": "running or interrupted (no run_finished record yet)"}[run.status]
    lines = [f"GEPA run in {run.source or '?'} — {status.rstrip(': ')}"]
    if best is None:
        lines.append("No candidate has been validated yet.")
        return "\n".join(lines) + "\n"
    improvement = f", {best.val_mean - seed.val_mean:+.3f} over the seed" if seed and best.idx != seed.idx else ""
    lines.append(f"Best: #{best.idx}, validation {fmt_score(best.val_mean)}{improvement}"
                 + (f" (seed {fmt_score(seed.val_mean)})" if seed else ""))
    if best.objectives:
        lines.append("Objectives of the best: " + ", ".join(f"{k} {fmt_score(v)}" for k, v in sorted(best.objectives.items())))
    budget = f" of {run.max_metric_calls:,}" if run.max_metric_calls else ""
    cost = f" · cost {fmt_cost(run.cost)}" if run.cost is not None else ""
    lines.append(f"Metric calls: {run.metric_calls:,}{budget} · candidates: {len(run.candidates)} · "
                 f"proposals: {run.proposals('reflective', 'merge')} ({run.accepted} accepted){cost}")
    front = run.front_counts()
    ranked = sorted(front.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"#{i} (best on {k})" for i, k in ranked[:8])
    lines.append(f"Pareto front: {shown}" + (f", and {len(ranked) - 8} more" if len(ranked) > 8 else ""))
    lineage, cur = [], best
    while cur is not None:
        lineage.append(f"#{cur.idx}")
        cur = run.candidate(cur.parents[0]) if cur.parents else None
    lines.append("Lineage of the best: " + " ← ".join(lineage))
    lines.append("")
    lines.append(f"{'#':>4}  {'kind':<10}  {'parents':<9}  {'val':>7}  {'found at':>8}  changed")
    for c in run.candidates:
        mark = "*" if c.idx == best.idx else " "
        lines.append(_clip(f"{c.idx:>3}{mark}  {c.kind:<10}  {','.join(map(str, c.parents)) or '-':<9}  "
                           f"{fmt_score(c.val_mean):>7}  {c.discovered_at:>8}  "
                           f"{', '.join(run.changed_components(c))}".rstrip(), width))
    if instructions:
        lines.append("")
        lines.append(f"Instructions of the best candidate (#{best.idx}):")
        for name, text in best.texts.items():
            lines.append(f"  [{name}]")
            lines.extend("    " + line for line in text.splitlines() or [""])
    return "\n".join(lines) + "\n"


def summary_text(log_dir: str | os.PathLike, *, instructions: bool = True) -> str:
    """:func:`render_text` of the run whose journal is in ``log_dir``."""
    return render_text(load_run(log_dir), instructions=instructions)
