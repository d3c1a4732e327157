"""The run report as one self-contained HTML file: inline CSS and SVG, no script, nothing loaded from
the network, so it can be opened from disk, mailed or logged to a tracker as it is.

    >>> write_report("runs/my_run")            # -> runs/my_run/report.html

The sections read a :class:`~dspy_gepa.tracking.report.run_view.RunView`; the pictures come from
:mod:`~dspy_gepa.tracking.report.svg`. The live dashboard (:mod:`dspy_gepa.tracking.live`) shows the same
sections (``status_html``, ``summary_cards``, ``front_html``, ``matrix_html``, ``candidate_html``, ``proposals_html``) with
the same styles (:data:`CSS`), so a run reads the same in both.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dspy_gepa._run_dir import REPORT, write_text_atomically
from dspy_gepa.tracking._versions import version_of
from dspy_gepa.tracking.report._format import escape, fmt_cost, fmt_score
from dspy_gepa.tracking.report.run_view import CandidateView, RunView, build_run, load_run, mean
from dspy_gepa.tracking.report.svg import chart_svg, color, lineage_svg

REPORT_NAME = REPORT

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def diff_html(old: str, new: str) -> str:
    """Word-level diff of two instructions as HTML with ``<del>``/``<ins>``."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(escape("".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(f"<del>{escape(''.join(a[i1:i2]))}</del>")
        if j2 > j1:
            out.append(f"<ins>{escape(''.join(b[j1:j2]))}</ins>")
    return "".join(out)



#: The report's styles (the live dashboard serves them as well).
CSS = """
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
    return (f'<div class="card"><div class="k">{escape(key)}</div><div class="v">{value}</div>'
            + (f'<div class="k">{note}</div>' if note else "") + "</div>")


def summary_cards(run: RunView) -> str:
    best, seed = run.best, run.seed
    merges = run.proposals("merge")
    cards = [
        _card("best validation score", fmt_score(best.val_mean) if best else "–",
              f'<a href="#cand-{best.idx}">candidate #{best.idx}</a>' if best else ""),
        _card("seed validation score", fmt_score(seed.val_mean) if seed else "–",
              (f"improvement {best.val_mean - seed.val_mean:+.3f}" if best and seed else "")),
        _card("metric calls", f"{run.metric_calls:,}",
              f"of {run.max_metric_calls:,} budgeted" if run.max_metric_calls else ""),
        _card("candidates", str(len(run.candidates)), f"{len(run.front_counts())} on the Pareto front"),
        _card("proposals", str(run.proposals("reflective", "merge")),
              f"{run.accepted} accepted, {merges} merge attempts"),
    ]
    if run.cost is not None:
        cards.append(_card("cost", escape(fmt_cost(run.cost)), "as recorded by the LM calls"))
    return f'<div class="cards">{"".join(cards)}</div>'


def status_html(run: RunView) -> str:
    label = {"finished": "finished", "failed": "failed", "running": "running or interrupted"}[run.status]
    detail = run.stop_reason if run.status == "finished" else run.error if run.status == "failed" else (
        "no run_finished record yet: the run is still going, or was stopped (rerun with the same log_dir to resume)")
    return f'<span class="status {run.status}">{escape(label)}</span> <span class="muted">{escape(detail or "")}</span>'


def config_table(run: RunView) -> str:
    rows = {**run.fingerprint, **run.config}
    rows.update({"train_size": run.train_size, "val_size": run.val_size, "components": ", ".join(run.components),
                 "sessions (1 + resumes)": run.sessions})
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>"
                   for k, v in rows.items())
    plan = f'<p class="muted">{escape(run.plan)}</p>' if run.plan else ""
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


def front_html(run: RunView) -> str:
    counts = run.front_counts()
    if not counts:
        return "<p>No candidate yet.</p>"
    n = len(run.val_ids)
    fronts = run.fronts()
    rows = []
    for idx, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        c = run.candidate(idx)
        alone = [vid for vid, members in fronts.items() if members == [idx]]
        rows.append(f'<tr><td><a href="#cand-{idx}">#{idx}</a></td><td class="num">{fmt_score(c.val_mean)}</td>'
                    f'<td class="num">{k} / {n}</td><td>{escape(", ".join(map(str, alone)) or "–")}</td></tr>')
    return ("<p>Candidates that reach the best score seen on at least one validation example. GEPA samples "
            "parents from this set.</p><table><tr><th>candidate</th><th class=num>validation</th>"
            "<th class=num>best on</th><th>examples where it is the only best</th></tr>" + "".join(rows) + "</table>")


def matrix_html(run: RunView) -> str:
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
            title = f' title="{escape(tip[:400])}"' if tip else ""
            cells.append(f'<td{cls}{title} style="background:{color(s, lo, hi)}">{fmt_score(s, 2)}</td>')
        rows.append(f'<tr><th><a href="#cand-{c.idx}">#{c.idx}</a></th><td class="num">{fmt_score(c.val_mean)}</td>'
                    + "".join(cells) + "</tr>")
    return ('<p class="muted">Rows: candidates; columns: validation examples (by position in the valset). '
            "Outlined: the best score on that example (the Pareto front). Hover a cell for the metric's feedback."
            '</p><div class="scroll"><table class="matrix"><tr><th>candidate</th><th class="num">mean</th>'
            + head + "</tr>" + "".join(rows) + "</table></div>")


def candidate_html(run: RunView, c: CandidateView, best: int | None, front: dict[int, int]) -> str:
    tags = f'<span class="tag">{escape(c.kind)}</span>'
    if c.idx == best:
        tags += '<span class="tag best">best</span>'
    if c.idx in front:
        tags += f'<span class="tag front">Pareto front: best on {front[c.idx]}</span>'
    parents = " + ".join(f'<a href="#cand-{p}">#{p}</a>' for p in c.parents) or "none (seed)"
    objectives = "".join(f" · {escape(name)} {fmt_score(value)}" for name, value in sorted(c.objectives.items()))
    facts = (f'<p class="muted">validation {fmt_score(c.val_mean)}{objectives} · parents {parents} · found at '
             f"{c.discovered_at:,} metric calls" + (f" · cost so far {escape(fmt_cost(c.cost_at))}" if c.cost_at is not None
                                                    else "") + f" · proposal {c.seq}</p>")
    commit = run.commit_for(c.seq)
    if commit and commit.get("parent_scores") is not None and commit.get("child_scores") is not None:
        facts += (f'<p class="muted">minibatch: parent {fmt_score(mean(commit["parent_scores"]))} → '
                  f'child {fmt_score(mean(commit["child_scores"]))} '
                  f'({escape(", ".join(fmt_score(s, 2) for s in commit["parent_scores"]))} → '
                  f'{escape(", ".join(fmt_score(s, 2) for s in commit["child_scores"]))})</p>')
    parents_v = [p for p in (run.candidate(i) for i in c.parents) if p is not None]
    comps = []
    for name, text in c.texts.items():
        head = f'<span class="name">{escape(name)}</span>'
        same = [p for p in parents_v if p.texts.get(name) == text]
        if same:
            comps.append(f'<div class="comp">{head} <span class="muted">unchanged from #{same[0].idx}</span>'
                         f'<details><summary>show</summary><div class="text">{escape(text)}</div></details></div>')
        elif parents_v and name in parents_v[0].texts:
            comps.append(f'<div class="comp">{head} <span class="muted">changed; diff against #{parents_v[0].idx}'
                         f'</span><div class="text diff">{diff_html(parents_v[0].texts[name], text)}</div>'
                         f'<details><summary>new text</summary><div class="text">{escape(text)}</div></details></div>')
        else:
            comps.append(f'<div class="comp">{head}<div class="text">{escape(text)}</div></div>')
    cls = "cand best" if c.idx == best else "cand"
    return (f'<section class="{cls}" id="cand-{c.idx}"><h3>Candidate #{c.idx}{tags}</h3>{facts}'
            + "".join(comps) + "</section>")


def proposals_html(run: RunView) -> str:
    if not run.commits:
        return "<p>No proposal committed yet.</p>"
    rows = []
    for c in run.commits:
        new = c.get("new_idx")
        rows.append(
            f'<tr><td class="num">{escape(c.get("seq"))}</td><td>{escape(c.get("kind"))}</td>'
            f'<td>{escape(", ".join(f"#{p}" for p in c.get("parents") or []))}</td>'
            f'<td>{escape(", ".join(c.get("components") or []))}</td><td>{escape(c.get("status"))}</td>'
            f'<td class="num">{fmt_score(mean(c.get("parent_scores")))}</td>'
            f'<td class="num">{fmt_score(mean(c.get("child_scores")))}</td>'
            f'<td>{f"<a href=#cand-{int(new)}>#{int(new)}</a>" if isinstance(new, int) else ""}</td>'
            f'<td class="num">{escape(c.get("metric_calls", ""))}</td><td>{escape(c.get("reason") or "")}</td></tr>')
    return ("<details><summary>All proposals</summary><div class=scroll><table><tr><th class=num>#</th><th>kind</th>"
            "<th>parents</th><th>components</th><th>outcome</th><th class=num>parent minibatch</th>"
            "<th class=num>child minibatch</th><th>new</th><th class=num>metric calls</th><th>reason</th></tr>"
            + "".join(rows) + "</table></div></details>")


def render_html(run: RunView, *, generated_at: datetime | None = None) -> str:
    """The report as one HTML document (inline CSS and SVG, no scripts, no external resources)."""
    version = escape(version_of("dspy-gepa", "dspy_gepa"))
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S %Z")
    best, front = run.best_idx, run.front_counts()
    title = f"GEPA run report — {Path(run.source).name or 'run'}"
    cands = "".join(candidate_html(run, c, best, front) for c in sorted(
        run.candidates, key=lambda c: (c.idx != best, c.idx)))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="dspy-gepa {version}"><title>{escape(title)}</title><style>{CSS}</style></head>
<body><main>
<header><h1>{escape(title)}</h1><div>{status_html(run)}</div>
<p class="muted">{escape(run.source)} · generated {escape(when)}</p>
<nav><a href="#summary">Summary</a><a href="#progress">Progress</a><a href="#lineage">Lineage</a>
<a href="#front">Pareto front</a><a href="#scores">Scores per example</a><a href="#candidates">Candidates</a>
<a href="#proposals">Proposals</a></nav></header>
<section id="summary"><h2>Summary</h2>{summary_cards(run)}{config_table(run)}</section>
<section id="progress"><h2>Best score against budget</h2>{_progress_html(run)}</section>
<section id="lineage"><h2>Lineage</h2><p class="muted">Each candidate on its own row, children to the right of their
parents; dashed purple edges are merges, the gold ring is the best candidate, ★k marks a Pareto-front member that is
best on k validation examples. Click a candidate to see its instructions.</p><div class="scroll">{lineage_svg(run)}</div>
</section>
<section id="front"><h2>Pareto front</h2>{front_html(run)}</section>
<section id="scores"><h2>Validation scores per example</h2>{matrix_html(run)}</section>
<section id="candidates"><h2>Candidates</h2><p class="muted">Best first, then in order of discovery. Changed
instructions show a word diff against the (first) parent.</p>{cands}</section>
<section id="proposals"><h2>Proposals</h2>{proposals_html(run)}</section>
<footer>Made by dspy-gepa {version} from the run's journal. Regenerate with
<code>dspy-gepa report {escape(run.source or "LOG_DIR")}</code>.</footer>
</main></body></html>
"""


def write_report(log_dir: str | os.PathLike, output: str | os.PathLike | None = None,
                 *, records: Iterable[dict[str, Any]] | None = None) -> Path:
    """Write the HTML report of the run in ``log_dir`` (to ``log_dir/report.html`` unless ``output``).

    ``records`` replaces reading the journal (used while a run is finishing). The file is replaced
    atomically, so a browser never sees half a report.
    """
    run = build_run(records, source=str(log_dir)) if records is not None else load_run(log_dir)
    out = Path(output) if output is not None else Path(log_dir) / REPORT_NAME
    # Readable by others: a report is meant to be opened and shared.
    return write_text_atomically(out, render_html(run), mode=0o644)
