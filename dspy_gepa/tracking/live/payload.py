"""What the live dashboard's page receives: a :class:`~dspy_gepa.tracking.report.run_view.RunView` as JSON.

The sections the HTML report already draws (status, summary cards, lineage tree, Pareto front, scores
per example, candidates with word diffs against their parent, proposals) are rendered here by the
report's own functions, so the report and the dashboard show a run the same way. The page adds what
only a live view needs, from plain numbers: the charts (drawn with uPlot), the budget left and the
proposals in flight. HTML is escaped on this side; the page inserts every other string as text.
"""

from __future__ import annotations

import math
from typing import Any

from dspy_gepa.tracking.report import html
from dspy_gepa.tracking.report.run_view import RunView
from dspy_gepa.tracking.report.svg import lineage_svg


def _num(x: Any) -> float | None:
    """A finite number for JSON, else None (NaN and infinities are not JSON)."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def _budget(run: RunView) -> dict[str, Any]:
    max_calls, max_cost = run.max_metric_calls, _num(run.config.get("max_cost"))
    return {
        "max_metric_calls": max_calls, "metric_calls": run.metric_calls,
        "metric_calls_left": max(0, max_calls - run.metric_calls) if max_calls is not None else None,
        "cost": _num(run.cost), "max_cost": max_cost,
        "cost_left": max(0.0, max_cost - (run.cost or 0.0)) if max_cost is not None else None,
    }


def run_payload(run: RunView, *, version: int = 0) -> dict[str, Any]:
    """The dashboard's data for ``run``: numbers for the charts, budget and in-flight proposals, and the
    report's sections as HTML."""
    best, front = run.best_idx, run.front_counts()
    by_hash = {c.hash: c.idx for c in run.candidates}
    order = sorted(run.candidates, key=lambda c: (c.idx != best, c.idx))
    return {
        "version": version,
        "source": run.source,
        "status": run.status, "stop_reason": run.stop_reason, "error": run.error,
        "budget": _budget(run),
        "best_idx": best,
        "points": [{"idx": c.idx, "calls": c.discovered_at, "cost": _num(c.cost_at), "score": _num(c.val_mean)}
                   for c in run.candidates],
        "curve": [{"calls": x, "score": _num(y), "cost": _num(cost)} for x, y, cost in run.curve()],
        "inflight": [{"seq": f.seq, "rollouts": f.rollouts, "parent": by_hash.get(f.parent_hash or ""),
                      "components": f.components, "texts": f.texts, "error": f.error} for f in run.inflight],
        "html": {
            "status": html.status_html(run),
            "summary": html.summary_cards(run),
            "config": html.config_table(run),
            "lineage": lineage_svg(run),
            "front": html.front_html(run),
            "scores": html.matrix_html(run),
            "proposals": html.proposals_html(run),
        },
        "candidates": [{"idx": c.idx, "html": html.candidate_html(run, c, best, front)} for c in order],
    }
