"""The run report: one self-contained HTML file, and a short text summary, built from a journal.

Only the journal's JSON lines are read (``log_dir/journal.jsonl``, or records kept in memory during a
run without ``log_dir``), so a report can be made while the run is still writing: a torn last line
is skipped. The HTML has its CSS and SVG inline and loads nothing from the network.

    >>> write_report("runs/my_run")            # -> runs/my_run/report.html
    >>> print(summary_text("runs/my_run"))
"""

from __future__ import annotations

import difflib
import html
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dspy_gepa._run_dir import REPORT, journal_path, write_text_atomically
from dspy_gepa.engine.journal import read_journal
from dspy_gepa.exceptions import JournalError
from dspy_gepa.tracking._cost import CostMeter

logger = logging.getLogger(__name__)

REPORT_NAME = REPORT

# --------------------------------------------------------------------------- the run, from records


@dataclass
class CandidateView:
    idx: int
    hash: str
    texts: dict[str, str]
    parents: list[int]
    seq: int
    kind: str
    val_mean: float
    discovered_at: int
    val_scores: dict[int, float]
    cost_at: float | None = None
    objectives: dict[str, float] = field(default_factory=dict)  # mean per objective (multi-objective metrics)


@dataclass
class RunView:
    """What the report shows, derived from journal records."""

    source: str = ""
    status: str = "running"  # "finished" | "failed" | "running" (or interrupted)
    stop_reason: str | None = None
    error: str | None = None
    fingerprint: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    plan: str | None = None
    max_metric_calls: int | None = None
    train_size: int | None = None
    val_size: int | None = None
    components: list[str] = field(default_factory=list)
    sessions: int = 0
    candidates: list[CandidateView] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    metric_calls: int = 0
    cost: float | None = None
    val_rollouts: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    @property
    def best_idx(self) -> int | None:
        """The best candidate validated on every example (screened-only candidates cannot be returned)."""
        if not self.candidates:
            return None
        full = [c for c in self.candidates if self.val_size is None or len(c.val_scores) == self.val_size]
        return max(full or self.candidates, key=lambda c: (_sortable(c.val_mean), -c.idx)).idx

    def candidate(self, idx: int) -> CandidateView | None:
        for c in self.candidates:
            if c.idx == idx:
                return c
        return None

    @property
    def val_ids(self) -> list[int]:
        return sorted({vid for c in self.candidates for vid in c.val_scores})

    def fronts(self) -> dict[int, list[int]]:
        """For each validation example every candidate was scored on, the candidates reaching the best
        score on it (as the engine computes them)."""
        common = set.intersection(*(set(c.val_scores) for c in self.candidates)) if self.candidates else set()
        return pareto_fronts({c.idx: {v: s for v, s in c.val_scores.items() if v in common}
                              for c in self.candidates})

    def front_counts(self) -> dict[int, int]:
        """Candidates on at least one example's front, with on how many."""
        return front_counts(self.fronts())

    def commit_for(self, seq: int) -> dict[str, Any] | None:
        for c in self.commits:
            if c.get("seq") == seq:
                return c
        return None

    def curve(self) -> list[tuple[int, float, float | None]]:
        """(metric calls at discovery, best validation score so far, cost so far) per new best."""
        points: list[tuple[int, float, float | None]] = []
        best = -math.inf
        for c in sorted(self.candidates, key=lambda c: (c.discovered_at, c.idx)):
            if _sortable(c.val_mean) > best:
                best = _sortable(c.val_mean)
                points.append((c.discovered_at, c.val_mean, c.cost_at))
        return points


def pareto_fronts(val_scores: dict[int, dict[int, float]]) -> dict[int, list[int]]:
    """For each validation example, the candidates (by index) that reach the best score seen on it."""
    fronts: dict[int, list[int]] = {}
    for vid in sorted({v for scores in val_scores.values() for v in scores}):
        scored = [(_sortable(scores[vid]), idx) for idx, scores in sorted(val_scores.items()) if vid in scores]
        top = max(s for s, _ in scored)
        fronts[vid] = [idx for s, idx in scored if s == top]
    return fronts


def front_counts(fronts: dict[int, list[int]]) -> dict[int, int]:
    """Candidates on at least one example's front, with on how many examples."""
    counts: dict[int, int] = {}
    for members in fronts.values():
        for idx in members:
            counts[idx] = counts.get(idx, 0) + 1
    return dict(sorted(counts.items()))


def _sortable(x: float) -> float:
    return -math.inf if math.isnan(x) else x


def _objectives(record: dict[str, Any]) -> dict[str, float]:
    """A candidate record's objective means (absent for single-objective metrics)."""
    raw = record.get("objectives")
    return {str(k): _float(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def build_run(records: Iterable[dict[str, Any]], source: str = "") -> RunView:
    """Fold journal records into a :class:`RunView`; unknown record types and fields are ignored."""
    run = RunView(source=source)
    meter = CostMeter()
    candidates: dict[int, CandidateView] = {}
    commits: dict[int, dict[str, Any]] = {}
    rollout_keys: set[tuple] = set()
    for record in records:
        if not isinstance(record, dict):
            continue
        kind = record.get("type")
        meter.observe_record(record)
        if kind == "header":
            run.fingerprint = dict(record.get("fingerprint") or {})
        elif kind == "run_started":
            run.sessions += 1
            run.status, run.stop_reason, run.error = "running", None, None
            run.config = dict(record.get("config") or {})
            run.plan = record.get("plan")
            run.max_metric_calls = record.get("max_metric_calls")
            run.train_size = record.get("train_size")
            run.val_size = record.get("val_size")
            run.components = list((record.get("seed_candidate") or {}).keys()) or run.components
        elif kind == "rollout":
            key = record.get("key") or [None, None, None]
            rollout_keys.add(tuple(key))
            if len(key) == 3 and key[1] == "val":
                run.val_rollouts[(key[0], int(key[2]))] = record
        elif kind == "candidate":
            try:
                idx = int(record["idx"])
            except (KeyError, TypeError, ValueError):
                continue
            scores = {}
            for k, v in (record.get("val_scores") or {}).items():
                try:
                    scores[int(k)] = _float(v)
                except ValueError:
                    continue
            candidates[idx] = CandidateView(
                idx=idx, hash=str(record.get("hash", "")), texts=dict(record.get("texts") or {}),
                parents=[int(p) for p in record.get("parents") or [] if p is not None],
                seq=int(record.get("seq", -1)), kind=str(record.get("kind", "")),
                val_mean=_float(record.get("val_mean")), discovered_at=int(record.get("discovered_at") or 0),
                val_scores=scores, cost_at=meter.total, objectives=_objectives(record))
        elif kind == "validated":
            try:
                view = candidates[int(record["idx"])]
            except (KeyError, TypeError, ValueError):
                continue
            view.val_scores = {int(k): _float(v) for k, v in (record.get("val_scores") or {}).items()}
            view.val_mean = _float(record.get("val_mean"))
            view.objectives = _objectives(record) or view.objectives
        elif kind == "commit":
            commits[int(record.get("seq", len(commits)))] = record
        elif kind == "run_finished":
            run.status, run.stop_reason = "finished", record.get("stop_reason")
        elif kind == "run_failed":
            run.status, run.error = "failed", record.get("error")
    run.candidates = [candidates[i] for i in sorted(candidates)]
    run.commits = [commits[s] for s in sorted(commits)]
    run.metric_calls = len(rollout_keys)
    run.cost = meter.total
    if not run.components and run.candidates:
        run.components = list(run.candidates[0].texts)
    return run


def load_run(log_dir: str | os.PathLike) -> RunView:
    """Read ``log_dir/journal.jsonl`` (a directory or the journal file itself)."""
    path = journal_path(log_dir)
    if not path.exists():
        raise JournalError(f"No journal at {path}. Pass the log_dir of a GEPA run (GEPA(log_dir=...)).")
    return build_run(read_journal(path).records, source=str(path.parent))


# --------------------------------------------------------------------------- formatting helpers


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _score(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if float(x).is_integer() and abs(x) < 1e9 and digits < 3:
        return str(int(x))
    return f"{x:.{digits}f}"


def _cost(x: float | None) -> str:
    if x is None:
        return "unknown"
    return f"${x:,.4f}" if x < 1 else f"${x:,.2f}"


def _mean(xs: Sequence[float] | None) -> float | None:
    xs = [x for x in (xs or []) if isinstance(x, int | float)]
    return sum(xs) / len(xs) if xs else None


_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def diff_html(old: str, new: str) -> str:
    """Word-level diff of two instructions as HTML with ``<del>``/``<ins>``."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(_e("".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(f"<del>{_e(''.join(a[i1:i2]))}</del>")
        if j2 > j1:
            out.append(f"<ins>{_e(''.join(b[j1:j2]))}</ins>")
    return "".join(out)


def _color(score: float, lo: float, hi: float) -> str:
    if math.isnan(score):
        return "#eee"
    t = 0.5 if hi <= lo else min(1.0, max(0.0, (score - lo) / (hi - lo)))
    return f"hsl({round(t * 120)}, 65%, {round(88 - 8 * t)}%)"


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _tick_label(t: float) -> str:
    return f"{t:g}" if abs(t) < 1e6 else f"{t:.2e}"


# --------------------------------------------------------------------------- SVG pieces


def chart_svg(points: list[tuple[float, float]], scatter: list[tuple[float, float, int]], *, x_label: str,
              y_label: str, x_max: float | None = None, x_end: float | None = None, x_format=_tick_label,
              title: str = "") -> str:
    """A step line of the best score so far, dots for every candidate (each linking to its card)."""
    width, height, left, right, top, bottom = 680, 280, 56, 20, 16, 44
    xs = [p[0] for p in points] + [s[0] for s in scatter] + ([x_max] if x_max else []) + ([x_end] if x_end else [])
    ys = [p[1] for p in points] + [s[1] for s in scatter]
    ys = [y for y in ys if not math.isnan(y)] or [0.0]
    x_hi = max(xs) if xs and max(xs) > 0 else 1.0
    y_lo, y_hi = min(ys), max(ys)
    if y_lo >= 0 and y_hi <= 1:
        y_lo, y_hi = 0.0, 1.0
    elif y_lo == y_hi:
        y_lo, y_hi = y_lo - 1, y_hi + 1

    def sx(x: float) -> float:
        return left + (width - left - right) * x / x_hi

    def sy(y: float) -> float:
        return top + (height - top - bottom) * (1 - (y - y_lo) / (y_hi - y_lo))

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title or y_label)}">']
    for t in _nice_ticks(y_lo, y_hi):
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{sy(t):.1f}" y2="{sy(t):.1f}"/>'
                     f'<text class="tick" x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{_tick_label(t)}</text>')
    for t in _nice_ticks(0, x_hi):
        parts.append(f'<text class="tick" x="{sx(t):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                     f'{_e(x_format(t))}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{width - right}" y1="{height - bottom}" y2="{height - bottom}"/>'
                 f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{height - bottom}"/>')
    if x_max:
        parts.append(f'<line class="budget" x1="{sx(x_max):.1f}" x2="{sx(x_max):.1f}" y1="{top}" '
                     f'y2="{height - bottom}"><title>budget: {_e(x_format(x_max))}</title></line>')
    if points:
        path = [f"M{sx(points[0][0]):.1f},{sy(points[0][1]):.1f}"]
        for x1, y1 in points[1:]:
            path.append(f"H{sx(x1):.1f}V{sy(y1):.1f}")
        end = x_end if x_end is not None else max(p[0] for p in points)
        path.append(f"H{sx(max(end, points[-1][0])):.1f}")
        parts.append(f'<path class="best" d="{"".join(path)}"/>')
    for x, y, idx in scatter:
        if math.isnan(y):
            continue
        parts.append(f'<a href="#cand-{idx}"><circle class="dot" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4">'
                     f'<title>#{idx}: {_score(y)} at {_e(x_format(x))}</title></circle></a>')
    parts.append(f'<text class="label" x="{(left + width - right) / 2}" y="{height - 6}" text-anchor="middle">'
                 f'{_e(x_label)}</text>'
                 f'<text class="label" transform="translate(14 {(top + height - bottom) / 2}) rotate(-90)" '
                 f'text-anchor="middle">{_e(y_label)}</text></svg>')
    return "".join(parts)


def lineage_svg(run: RunView) -> str:
    """One row per candidate, its generation along x; edges from parents (merges dashed)."""
    cands = run.candidates
    if not cands:
        return "<p>No candidates yet.</p>"
    depth: dict[int, int] = {}
    for c in cands:
        depth[c.idx] = 1 + max((depth.get(p, 0) for p in c.parents), default=-1)
    best, front = run.best_idx, run.front_counts()
    lo = min((_sortable(c.val_mean) for c in cands if not math.isnan(c.val_mean)), default=0.0)
    hi = max((c.val_mean for c in cands if not math.isnan(c.val_mean)), default=1.0)
    row, step, x0, y0, r = 30, 34, 24, 22, 9
    label_x = x0 + step * (max(depth.values()) + 1) + 8
    width, height = label_x + 420, y0 + row * len(cands)
    pos = {c.idx: (x0 + step * depth[c.idx], y0 + row * i) for i, c in enumerate(cands)}
    parts = [f'<svg class="lineage" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="lineage tree">']
    for c in cands:
        x, y = pos[c.idx]
        for p in c.parents:
            if p not in pos:
                continue
            px, py = pos[p]
            cls = "edge merge" if len(c.parents) > 1 else "edge"
            parts.append(f'<path class="{cls}" d="M{px},{py} C{px},{(py + y) / 2} {x},{(py + y) / 2} {x},{y}"/>')
    for c in cands:
        x, y = pos[c.idx]
        cls = "node best" if c.idx == best else "node"
        changed = _changed_components(run, c)
        label = (f"#{c.idx}  {_score(c.val_mean)}  {c.kind}"
                 + (f" of #{' + #'.join(map(str, c.parents))}" if c.parents else "")
                 + (f"  [{', '.join(changed)}]" if changed and c.kind != "seed" else "")
                 + (f"  ★{front[c.idx]}" if c.idx in front else ""))
        tip = (f"#{c.idx} ({c.kind}) validation {_score(c.val_mean)}, found at {c.discovered_at} metric calls"
               + (f", best on {front[c.idx]} example(s)" if c.idx in front else ""))
        parts.append(f'<a href="#cand-{c.idx}"><g><title>{_e(tip)}</title>'
                     f'<circle class="{cls}" cx="{x}" cy="{y}" r="{r}" fill="{_color(c.val_mean, lo, hi)}"/>'
                     f'<text class="nodelabel" x="{label_x}" y="{y + 4}">{_e(label)}</text>'
                     f'<line class="leader" x1="{x + r}" x2="{label_x - 4}" y1="{y}" y2="{y}"/></g></a>')
    parts.append("</svg>")
    return "".join(parts)


def _changed_components(run: RunView, c: CandidateView) -> list[str]:
    """Components whose text differs from every parent's; for a merge, also where each component the
    parents disagree on came from (``name←#idx``)."""
    if not c.parents:
        return []
    parents = [p for p in (run.candidate(i) for i in c.parents) if p is not None]
    changed = [k for k, v in c.texts.items() if all(p.texts.get(k) != v for p in parents)]
    if len(parents) > 1:
        for k, v in c.texts.items():
            if k not in changed and len({p.texts.get(k) for p in parents}) > 1:
                changed.append(f"{k}←#{next(p.idx for p in parents if p.texts.get(k) == v)}")
    return changed


# --------------------------------------------------------------------------- HTML

_CSS = """
:root { --fg:#1d2330; --muted:#5d6675; --line:#d9dde5; --accent:#2f6fdf; --best:#d4a017; --bg:#fff; --soft:#f5f7fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0;
       background: var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 34px 0 10px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; } h3 { font-size: 15px; margin: 0 0 6px; }
.muted { color: var(--muted); } nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.status.finished { background: #e1f3e5; color: #17692c; } .status.failed { background: #fbe3e3; color: #9b1c1c; }
.status.running { background: #fff3d6; color: #8a5a00; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; margin: 16px 0; }
.card { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .v { font-size: 20px; font-weight: 650; } .card .k { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; } th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: left;
  vertical-align: top; } th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; max-width: 100%; }
table.matrix td { text-align: center; min-width: 34px; font-variant-numeric: tabular-nums; }
table.matrix td.front { outline: 2px solid var(--fg); outline-offset: -2px; font-weight: 700; }
svg text { font: 11px system-ui, sans-serif; fill: var(--fg); }
svg .grid { stroke: #eceff4; } svg .axis { stroke: #9aa3b2; } svg .tick { fill: var(--muted); }
svg .label { fill: var(--muted); font-size: 12px; } svg .best { fill: none; stroke: var(--accent); stroke-width: 2.5; }
svg .dot { fill: #fff; stroke: var(--accent); stroke-width: 1.5; } svg .budget { stroke: #c33; stroke-dasharray: 4 3; }
svg .edge { fill: none; stroke: #8a94a6; stroke-width: 1.5; } svg .edge.merge { stroke: #8e44ad; stroke-dasharray: 5 3; }
svg .node { stroke: #556; stroke-width: 1; } svg .node.best { stroke: var(--best); stroke-width: 3.5; }
svg .leader { stroke: #e3e6ec; stroke-dasharray: 2 3; } svg .nodelabel { font-family: ui-monospace, monospace; }
svg.chart { width: 100%; max-width: 680px; height: auto; }
.cand { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin: 12px 0; }
.cand.best { border-color: var(--best); box-shadow: 0 0 0 2px #f6e7b4; }
.cand:target { box-shadow: 0 0 0 3px #b9d0f7; }
.comp { margin: 8px 0; } .comp .name { font-family: ui-monospace, monospace; font-weight: 600; }
.text { white-space: pre-wrap; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px;
        background: var(--soft); border-radius: 6px; padding: 8px 10px; margin: 4px 0; }
ins { background: #d7f5dd; text-decoration: none; } del { background: #fbdada; color: #8b1e1e; }
.tag { font-size: 11px; padding: 0 6px; border-radius: 8px; background: #e8ecf3; margin-left: 6px; }
.tag.best { background: #f6e7b4; } .tag.front { background: #e4dcf5; }
details > summary { cursor: pointer; color: var(--accent); }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""


def _card(key: str, value: str, note: str = "") -> str:
    return (f'<div class="card"><div class="k">{_e(key)}</div><div class="v">{value}</div>'
            + (f'<div class="k">{note}</div>' if note else "") + "</div>")


def _summary_cards(run: RunView) -> str:
    best = run.candidate(run.best_idx) if run.best_idx is not None else None
    seed = run.candidate(0)
    reflective = [c for c in run.commits if c.get("kind") == "reflective"]
    merges = [c for c in run.commits if c.get("kind") == "merge"]
    accepted = sum(1 for c in run.commits if c.get("status") in ("accepted", "merge_accepted"))
    cards = [
        _card("best validation score", _score(best.val_mean) if best else "–",
              f'<a href="#cand-{best.idx}">candidate #{best.idx}</a>' if best else ""),
        _card("seed validation score", _score(seed.val_mean) if seed else "–",
              (f"improvement {best.val_mean - seed.val_mean:+.3f}" if best and seed else "")),
        _card("metric calls", f"{run.metric_calls:,}",
              f"of {run.max_metric_calls:,} budgeted" if run.max_metric_calls else ""),
        _card("candidates", str(len(run.candidates)), f"{len(run.front_counts())} on the Pareto front"),
        _card("proposals", str(len(reflective) + len(merges)),
              f"{accepted} accepted, {len(merges)} merge attempts"),
    ]
    if run.cost is not None:
        cards.append(_card("cost", _e(_cost(run.cost)), "as recorded by the LM calls"))
    return f'<div class="cards">{"".join(cards)}</div>'


def _status_html(run: RunView) -> str:
    label = {"finished": "finished", "failed": "failed", "running": "running or interrupted"}[run.status]
    detail = run.stop_reason if run.status == "finished" else run.error if run.status == "failed" else (
        "no run_finished record yet: the run is still going, or was stopped (rerun with the same log_dir to resume)")
    return f'<span class="status {run.status}">{_e(label)}</span> <span class="muted">{_e(detail or "")}</span>'


def _config_table(run: RunView) -> str:
    rows = {**run.fingerprint, **run.config}
    rows.update({"train_size": run.train_size, "val_size": run.val_size, "components": ", ".join(run.components),
                 "sessions (1 + resumes)": run.sessions})
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>"
                   for k, v in rows.items())
    plan = f'<p class="muted">{_e(run.plan)}</p>' if run.plan else ""
    return f"<details><summary>Configuration</summary>{plan}<table>{body}</table></details>"


def _progress_html(run: RunView) -> str:
    if not run.candidates:
        return "<p>No candidate has been validated yet.</p>"
    curve = run.curve()
    scatter = [(c.discovered_at, c.val_mean, c.idx) for c in run.candidates]
    parts = [chart_svg([(x, y) for x, y, _ in curve], scatter, x_label="metric calls",
                       y_label="validation score", x_max=run.max_metric_calls, x_end=run.metric_calls,
                       title="best validation score against metric calls")]
    if run.cost is not None:
        costed = [(c.cost_at, c.val_mean, c.idx) for c in run.candidates if c.cost_at is not None]
        cost_curve = [(cost, y) for _, y, cost in curve if cost is not None]
        if costed:
            parts.append(chart_svg(cost_curve, costed, x_label="cost (USD)", y_label="validation score", x_end=run.cost,
                                   x_format=lambda v: f"${v:g}", title="best validation score against cost"))
    parts.append('<p class="muted">Line: best validation score so far. Dots: every candidate, at the metric calls '
                 "spent when it was found. Dashed red: the budget.</p>")
    return "".join(parts)


def _front_html(run: RunView) -> str:
    counts = run.front_counts()
    if not counts:
        return "<p>No candidate yet.</p>"
    n = len(run.val_ids)
    fronts = run.fronts()
    rows = []
    for idx, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        c = run.candidate(idx)
        alone = [vid for vid, members in fronts.items() if members == [idx]]
        rows.append(f'<tr><td><a href="#cand-{idx}">#{idx}</a></td><td class="num">{_score(c.val_mean)}</td>'
                    f'<td class="num">{k} / {n}</td><td>{_e(", ".join(map(str, alone)) or "–")}</td></tr>')
    return ("<p>Candidates that reach the best score seen on at least one validation example. GEPA samples "
            "parents from this set.</p><table><tr><th>candidate</th><th class=num>validation</th>"
            "<th class=num>best on</th><th>examples where it is the only best</th></tr>" + "".join(rows) + "</table>")


def _matrix_html(run: RunView) -> str:
    ids = run.val_ids
    if not ids:
        return "<p>No validation scores yet.</p>"
    fronts = run.fronts()
    scores = [s for c in run.candidates for s in c.val_scores.values() if not math.isnan(s)]
    lo, hi = (min(scores), max(scores)) if scores else (0.0, 1.0)
    head = "".join(f'<th class="num">{vid}</th>' for vid in ids)
    rows = []
    for c in run.candidates:
        cells = []
        for vid in ids:
            if vid not in c.val_scores:
                cells.append("<td></td>")
                continue
            s = c.val_scores[vid]
            rollout = run.val_rollouts.get((c.hash, vid)) or {}
            tip = " · ".join(str(x) for x in (rollout.get("feedback"), rollout.get("error")) if x)
            cls = ' class="front"' if c.idx in fronts.get(vid, ()) else ""
            title = f' title="{_e(tip[:400])}"' if tip else ""
            cells.append(f'<td{cls}{title} style="background:{_color(s, lo, hi)}">{_score(s, 2)}</td>')
        rows.append(f'<tr><th><a href="#cand-{c.idx}">#{c.idx}</a></th><td class="num">{_score(c.val_mean)}</td>'
                    + "".join(cells) + "</tr>")
    return ('<p class="muted">Rows: candidates; columns: validation examples (by position in the valset). '
            "Outlined: the best score on that example (the Pareto front). Hover a cell for the metric's feedback."
            '</p><div class="scroll"><table class="matrix"><tr><th>candidate</th><th class="num">mean</th>'
            + head + "</tr>" + "".join(rows) + "</table></div>")


def _candidate_html(run: RunView, c: CandidateView, best: int | None, front: dict[int, int]) -> str:
    tags = f'<span class="tag">{_e(c.kind)}</span>'
    if c.idx == best:
        tags += '<span class="tag best">best</span>'
    if c.idx in front:
        tags += f'<span class="tag front">Pareto front: best on {front[c.idx]}</span>'
    parents = " + ".join(f'<a href="#cand-{p}">#{p}</a>' for p in c.parents) or "none (seed)"
    objectives = "".join(f" · {_e(name)} {_score(value)}" for name, value in sorted(c.objectives.items()))
    facts = (f'<p class="muted">validation {_score(c.val_mean)}{objectives} · parents {parents} · found at '
             f"{c.discovered_at:,} metric calls" + (f" · cost so far {_e(_cost(c.cost_at))}" if c.cost_at is not None
                                                    else "") + f" · proposal {c.seq}</p>")
    commit = run.commit_for(c.seq)
    if commit and commit.get("parent_scores") is not None and commit.get("child_scores") is not None:
        facts += (f'<p class="muted">minibatch: parent {_score(_mean(commit["parent_scores"]))} → '
                  f'child {_score(_mean(commit["child_scores"]))} '
                  f'({_e(", ".join(_score(s, 2) for s in commit["parent_scores"]))} → '
                  f'{_e(", ".join(_score(s, 2) for s in commit["child_scores"]))})</p>')
    parents_v = [p for p in (run.candidate(i) for i in c.parents) if p is not None]
    comps = []
    for name, text in c.texts.items():
        head = f'<span class="name">{_e(name)}</span>'
        same = [p for p in parents_v if p.texts.get(name) == text]
        if same:
            comps.append(f'<div class="comp">{head} <span class="muted">unchanged from #{same[0].idx}</span>'
                         f'<details><summary>show</summary><div class="text">{_e(text)}</div></details></div>')
        elif parents_v and name in parents_v[0].texts:
            comps.append(f'<div class="comp">{head} <span class="muted">changed; diff against #{parents_v[0].idx}'
                         f'</span><div class="text diff">{diff_html(parents_v[0].texts[name], text)}</div>'
                         f'<details><summary>new text</summary><div class="text">{_e(text)}</div></details></div>')
        else:
            comps.append(f'<div class="comp">{head}<div class="text">{_e(text)}</div></div>')
    cls = "cand best" if c.idx == best else "cand"
    return (f'<section class="{cls}" id="cand-{c.idx}"><h3>Candidate #{c.idx}{tags}</h3>{facts}'
            + "".join(comps) + "</section>")


def _proposals_html(run: RunView) -> str:
    if not run.commits:
        return "<p>No proposal committed yet.</p>"
    rows = []
    for c in run.commits:
        new = c.get("new_idx")
        rows.append(
            f'<tr><td class="num">{_e(c.get("seq"))}</td><td>{_e(c.get("kind"))}</td>'
            f'<td>{_e(", ".join(f"#{p}" for p in c.get("parents") or []))}</td>'
            f'<td>{_e(", ".join(c.get("components") or []))}</td><td>{_e(c.get("status"))}</td>'
            f'<td class="num">{_score(_mean(c.get("parent_scores")))}</td>'
            f'<td class="num">{_score(_mean(c.get("child_scores")))}</td>'
            f'<td>{f"<a href=#cand-{int(new)}>#{int(new)}</a>" if isinstance(new, int) else ""}</td>'
            f'<td class="num">{_e(c.get("metric_calls", ""))}</td><td>{_e(c.get("reason") or "")}</td></tr>')
    return ("<details><summary>All proposals</summary><div class=scroll><table><tr><th class=num>#</th><th>kind</th>"
            "<th>parents</th><th>components</th><th>outcome</th><th class=num>parent minibatch</th>"
            "<th class=num>child minibatch</th><th>new</th><th class=num>metric calls</th><th>reason</th></tr>"
            + "".join(rows) + "</table></div></details>")


def render_html(run: RunView, *, generated_at: datetime | None = None) -> str:
    """The report as one HTML document (inline CSS and SVG, no scripts, no external resources)."""
    from dspy_gepa import __version__

    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S %Z")
    best, front = run.best_idx, run.front_counts()
    title = f"GEPA run report — {Path(run.source).name or 'run'}"
    cands = "".join(_candidate_html(run, c, best, front) for c in sorted(
        run.candidates, key=lambda c: (c.idx != best, c.idx)))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="dspy-gepa {_e(__version__)}"><title>{_e(title)}</title><style>{_CSS}</style></head>
<body><main>
<header><h1>{_e(title)}</h1><div>{_status_html(run)}</div>
<p class="muted">{_e(run.source)} · generated {_e(when)}</p>
<nav><a href="#summary">Summary</a><a href="#progress">Progress</a><a href="#lineage">Lineage</a>
<a href="#front">Pareto front</a><a href="#scores">Scores per example</a><a href="#candidates">Candidates</a>
<a href="#proposals">Proposals</a></nav></header>
<section id="summary"><h2>Summary</h2>{_summary_cards(run)}{_config_table(run)}</section>
<section id="progress"><h2>Best score against budget</h2>{_progress_html(run)}</section>
<section id="lineage"><h2>Lineage</h2><p class="muted">Each candidate on its own row, children to the right of their
parents; dashed purple edges are merges, the gold ring is the best candidate, ★k marks a Pareto-front member that is
best on k validation examples. Click a candidate to see its instructions.</p><div class="scroll">{lineage_svg(run)}</div>
</section>
<section id="front"><h2>Pareto front</h2>{_front_html(run)}</section>
<section id="scores"><h2>Validation scores per example</h2>{_matrix_html(run)}</section>
<section id="candidates"><h2>Candidates</h2><p class="muted">Best first, then in order of discovery. Changed
instructions show a word diff against the (first) parent.</p>{cands}</section>
<section id="proposals"><h2>Proposals</h2>{_proposals_html(run)}</section>
<footer>Made by dspy-gepa {_e(__version__)} from the run's journal. Regenerate with
<code>dspy-gepa report {_e(run.source or "LOG_DIR")}</code>.</footer>
</main></body></html>
"""


def write_report(log_dir: str | os.PathLike, output: str | os.PathLike | None = None,
                 *, records: list[dict[str, Any]] | None = None) -> Path:
    """Write the HTML report of the run in ``log_dir`` (to ``log_dir/report.html`` unless ``output``).

    ``records`` replaces reading the journal (used while a run is finishing). The file is replaced
    atomically, so a browser never sees half a report.
    """
    run = build_run(records, source=str(log_dir)) if records is not None else load_run(log_dir)
    out = Path(output) if output is not None else Path(log_dir) / REPORT_NAME
    # Readable by others: a report is meant to be opened and shared.
    return write_text_atomically(out, render_html(run), mode=0o644)


# --------------------------------------------------------------------------- text summary


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_text(run: RunView, *, instructions: bool = True, width: int = 100) -> str:
    """A short plain-text summary for the terminal."""
    best = run.candidate(run.best_idx) if run.best_idx is not None else None
    seed = run.candidate(0)
    status = {"finished": f"finished: {run.stop_reason or ''}", "failed": f"failed: {run.error or ''}",
              "running": "running or interrupted (no run_finished record yet)"}[run.status]
    lines = [f"GEPA run in {run.source or '?'} — {status.rstrip(': ')}"]
    if best is None:
        lines.append("No candidate has been validated yet.")
        return "\n".join(lines) + "\n"
    improvement = f", {best.val_mean - seed.val_mean:+.3f} over the seed" if seed and best.idx != seed.idx else ""
    lines.append(f"Best: #{best.idx}, validation {_score(best.val_mean)}{improvement}"
                 + (f" (seed {_score(seed.val_mean)})" if seed else ""))
    if best.objectives:
        lines.append("Objectives of the best: " + ", ".join(f"{k} {_score(v)}" for k, v in sorted(best.objectives.items())))
    budget = f" of {run.max_metric_calls:,}" if run.max_metric_calls else ""
    accepted = sum(1 for c in run.commits if c.get("status") in ("accepted", "merge_accepted"))
    proposals = sum(1 for c in run.commits if c.get("kind") in ("reflective", "merge"))
    cost = f" · cost {_cost(run.cost)}" if run.cost is not None else ""
    lines.append(f"Metric calls: {run.metric_calls:,}{budget} · candidates: {len(run.candidates)} · "
                 f"proposals: {proposals} ({accepted} accepted){cost}")
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
                           f"{_score(c.val_mean):>7}  {c.discovered_at:>8}  "
                           f"{', '.join(_changed_components(run, c))}".rstrip(), width))
    if instructions:
        lines.append("")
        lines.append(f"Instructions of the best candidate (#{best.idx}):")
        for name, text in best.texts.items():
            lines.append(f"  [{name}]")
            lines.extend("    " + line for line in text.splitlines() or [""])
    return "\n".join(lines) + "\n"


def summary_text(log_dir: str | os.PathLike, *, instructions: bool = True) -> str:
    return render_text(load_run(log_dir), instructions=instructions)
