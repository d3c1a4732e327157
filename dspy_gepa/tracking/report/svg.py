"""The report's pictures as inline SVG: a best-score-against-budget chart and the lineage tree.

Drawn by hand (no plotting library, no script) so the HTML report stays one self-contained file.
Every dot and node links to its candidate's card (``#cand-N``).
"""

from __future__ import annotations

import math

from dspy_gepa.tracking.report._format import escape, fmt_score
from dspy_gepa.tracking.report.run_view import RunView


def color(score: float, lo: float, hi: float) -> str:
    """Red (``lo``) to green (``hi``) for a score; grey for NaN."""
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

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title or y_label)}">']
    for t in _nice_ticks(y_lo, y_hi):
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{sy(t):.1f}" y2="{sy(t):.1f}"/>'
                     f'<text class="tick" x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{_tick_label(t)}</text>')
    for t in _nice_ticks(0, x_hi):
        parts.append(f'<text class="tick" x="{sx(t):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                     f'{escape(x_format(t))}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{width - right}" y1="{height - bottom}" y2="{height - bottom}"/>'
                 f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{height - bottom}"/>')
    if x_max:
        parts.append(f'<line class="budget" x1="{sx(x_max):.1f}" x2="{sx(x_max):.1f}" y1="{top}" '
                     f'y2="{height - bottom}"><title>budget: {escape(x_format(x_max))}</title></line>')
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
                     f'<title>#{idx}: {fmt_score(y)} at {escape(x_format(x))}</title></circle></a>')
    parts.append(f'<text class="label" x="{(left + width - right) / 2}" y="{height - 6}" text-anchor="middle">'
                 f'{escape(x_label)}</text>'
                 f'<text class="label" transform="translate(14 {(top + height - bottom) / 2}) rotate(-90)" '
                 f'text-anchor="middle">{escape(y_label)}</text></svg>')
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
    lo = min((c.val_mean for c in cands if not math.isnan(c.val_mean)), default=0.0)
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
        changed = run.changed_components(c)
        label = (f"#{c.idx}  {fmt_score(c.val_mean)}  {c.kind}"
                 + (f" of #{' + #'.join(map(str, c.parents))}" if c.parents else "")
                 + (f"  [{', '.join(changed)}]" if changed and c.kind != "seed" else "")
                 + (f"  ★{front[c.idx]}" if c.idx in front else ""))
        tip = (f"#{c.idx} ({c.kind}) validation {fmt_score(c.val_mean)}, found at {c.discovered_at} metric calls"
               + (f", best on {front[c.idx]} example(s)" if c.idx in front else ""))
        parts.append(f'<a href="#cand-{c.idx}"><g><title>{escape(tip)}</title>'
                     f'<circle class="{cls}" cx="{x}" cy="{y}" r="{r}" fill="{color(c.val_mean, lo, hi)}"/>'
                     f'<text class="nodelabel" x="{label_x}" y="{y + 4}">{escape(label)}</text>'
                     f'<line class="leader" x1="{x + r}" x2="{label_x - 4}" y1="{y}" y2="{y}"/></g></a>')
    parts.append("</svg>")
    return "".join(parts)
