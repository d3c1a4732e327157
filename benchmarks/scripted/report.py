"""Markdown tables and PNG plots from benchmarks/scripted/results/*.json, written between markers in
benchmarks/README.md (plots in benchmarks/scripted/results/plots/)."""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.scripted import scaling
from benchmarks.scripted.runner import BEST_PXN
from benchmarks.scripted.worlds import REPORTING_WORLDS, TASKS, TUNING_WORLDS

START = "<!-- scripted-benchmarks:start -->"
END = "<!-- scripted-benchmarks:end -->"
SECTION_TITLE = "## Scripted benchmarks (generated)"
BASELINE = "dspy"
PXN = "dspy_pxn"
OURS = "dspy_gepa"
LABELS = {
    "dspy": "dspy.GEPA",
    "dspy_nomerge": "dspy.GEPA, use_merge=False",
    "dspy_pxn": f"dspy.GEPA + PxN({BEST_PXN[0]}, {BEST_PXN[1]})",
    "dspy_gepa": "dspy_gepa.GEPA",
    "dspy_gepa_paper": "dspy_gepa.GEPA (paper mode)",
}
_PXN_NAME = re.compile(r"dspy_pxn_(\d+)x(\d+)")
WORLD_ORDER = {name: i for i, name in enumerate(TASKS)}


def _label(opt: str) -> str:
    m = _PXN_NAME.fullmatch(opt)
    return f"dspy.GEPA + PxN({m.group(1)}, {m.group(2)})" if m else LABELS.get(opt, opt)


def _world_set(name: str) -> str:
    return "tuning" if name in TUNING_WORLDS else "reporting" if name in REPORTING_WORLDS else "?"


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else float("nan")


def _sd(xs: list[float]) -> float:
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def _load(results_dir: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for suite in ("quality", "latency", "overhead"):
        path = results_dir / f"{suite}.json"
        if path.exists():
            out[suite] = json.loads(path.read_text())
    return out


def _group(records: list[dict[str, Any]], *keys: str) -> dict[tuple, list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[tuple(r.get(k) for k in keys)].append(r)
    order = WORLD_ORDER
    return dict(
        sorted(
            groups.items(),
            key=lambda kv: tuple((order.get(x, 9), x if isinstance(x, int) else 0, str(x)) for x in kv[0]),
        )
    )


def _opt_order(opts) -> list[str]:
    known = ["dspy", "dspy_nomerge", "dspy_pxn", "dspy_gepa", "dspy_gepa_paper"]
    return sorted(set(opts), key=lambda o: (known.index(o) if o in known else 2.5 if o.startswith("dspy_pxn") else
                                            len(known), o))


def _env_line(suite: str, data: dict[str, Any]) -> str:
    env = data.get("last_run", {})
    v = env.get("versions", {})
    return (
        f"- `{suite}`: last run {env.get('timestamp', '?')} — dspy {v.get('dspy')}, gepa {v.get('gepa')}, "
        f"dspy_gepa {v.get('dspy_gepa')}, Python {v.get('python')}, {env.get('cpu_count')} cores"
    )


def _tasks_table(data: dict[str, dict[str, Any]]) -> list[str]:
    info = {}
    for suite in ("quality", "latency"):
        info.update((data.get(suite, {}).get("settings", {}) or {}).get("tasks_info", {}))
    if not info:
        return []
    lines = [
        "| World | Set | Program | train / val / test | Seed program test score | Best reachable test score |",
        "|---|---|---|---|---|---|",
    ]
    for name, t in sorted(info.items(), key=lambda kv: WORLD_ORDER.get(kv[0], 99)):
        lines.append(
            f"| {name} | {_world_set(name)} | {t['description']} | {t['n_train']} / {t['n_val']} / {t['n_test']} | "
            f"{t['seed_program_test_score']:.3f} | {t['best_reachable_test_score']:.3f} |"
        )
    return lines


# --------------------------------------------------------------------------------------------------
# curves: test score of the incumbent against metric calls or seconds, averaged over runs
# --------------------------------------------------------------------------------------------------

AXES = {"calls": 1, "seconds": 0}


def _step(curve: list[list[float]], start: float, axis: str, x: float) -> float:
    """A run's test score at ``x`` (the last point at or before it; ``start`` before the first)."""
    value = start
    for point in curve:
        if point[AXES[axis]] > x:
            break
        value = point[2]
    return value


def mean_curve(records: list[dict[str, Any]], axis: str, grid: list[float]) -> tuple[list[float], list[float],
                                                                                      list[float]]:
    """Mean, min and max over ``records`` of their step curves at each ``grid`` point (a finished run keeps its
    final score)."""
    rows = [[_step(r["curve"], r.get("seed_test_score", r["curve"][0][2]), axis, x) for x in grid]
            for r in records if r.get("curve")]
    if not rows:
        return [], [], []
    cols = list(zip(*rows, strict=True))
    return [statistics.fmean(c) for c in cols], [min(c) for c in cols], [max(c) for c in cols]


def _grid(records: list[dict[str, Any]], axis: str, n: int = 200) -> list[float]:
    end = max((r["curve"][-1][AXES[axis]] for r in records if r.get("curve")), default=0.0)
    return [end * i / (n - 1) for i in range(n)] if end else []


def time_to_target(records: list[dict[str, Any]], axis: str, target: float) -> float:
    """First ``axis`` value where the mean curve of ``records`` reaches ``target`` (inf: never)."""
    grid = _grid(records, axis, 400)
    mean, _, _ = mean_curve(records, axis, grid)
    return next((x for x, y in zip(grid, mean, strict=True) if y >= target - 1e-6), math.inf)


def _fmt_ttt(x: float, unit: str = "s") -> str:
    return "never" if math.isinf(x) else (f"{x:.2f} {unit}" if unit == "s" else f"{x:.0f}")


# --------------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------------


def _paired_delta(ours: list[dict[str, Any]], base: list[dict[str, Any]]) -> float | None:
    """Mean test-score difference over the seeds both ran."""
    b = {r["seed"]: r["test_score"] for r in base}
    pairs = [(r["test_score"], b[r["seed"]]) for r in ours if r["seed"] in b]
    return _mean([x - y for x, y in pairs]) if pairs else None


def _quality(data: dict[str, Any]) -> tuple[list[str], dict]:
    recs = data["records"]
    summary: dict[tuple, dict[int, float]] = {}
    lines = [
        "| World | Budget (valset) | Optimizer | Test score mean ± sd | min – max | Δ vs dspy.GEPA | "
        "Metric calls to dspy.GEPA's score | Metric calls used (mean / max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (task, budget), rs in _group(recs, "task", "budget").items():
        by_opt = _group(rs, "optimizer")
        base = by_opt.get((BASELINE,))
        target = _mean([r["test_score"] for r in base]) if base else None
        for opt in _opt_order(o for (o,) in by_opt):
            g = by_opt[(opt,)]
            test = [r["test_score"] for r in g]
            used = [max(r["metric_calls_counted"], r.get("metric_calls_reported") or 0) for r in g]
            summary[(task, budget, opt)] = {r["seed"]: r["test_score"] for r in g}
            delta = _paired_delta(g, base) if base and opt != BASELINE else None
            ttt = time_to_target(g, "calls", target) if target is not None and all(r.get("curve") for r in g) \
                else None
            lines.append(
                f"| {task} | {budget} ({g[0].get('n_val', '?')}) | {_label(opt)} | {_mean(test):.3f} ± {_sd(test):.3f} "
                f"| {min(test):.3f} – {max(test):.3f} | {'' if delta is None else f'{delta:+.3f}'} | "
                f"{'' if ttt is None else _fmt_ttt(ttt, 'calls')} | {_mean(used):.0f} / {max(used)} |"
            )
    return lines, summary


def _paired_ratio(ours: list[dict[str, Any]], base: list[dict[str, Any]] | None, key: str = "wall_time_s"
                  ) -> float:
    """Median over (seed, repeat) pairs of ours / base (pairs ran back to back, under the same load)."""
    if not base:
        return float("nan")
    b = {(r["seed"], r.get("repeat", 0)): r[key] for r in base}
    ratios = [r[key] / b[(r["seed"], r.get("repeat", 0))] for r in ours if (r["seed"], r.get("repeat", 0)) in b]
    return statistics.median(ratios) if ratios else float("nan")


def _latency(data: dict[str, Any]) -> tuple[list[str], dict]:
    recs = data["records"]
    summary: dict[tuple, dict[str, float]] = {}
    s = data.get("settings", {})
    loads = [r["load_average"][0] for r in recs if r.get("load_average")]
    lines = [
        f"Task LM {s.get('task_latency', 0.05) * 1000:.0f} ms per call, reflection LM "
        f"{s.get('reflection_latency', 0.2) * 1000:.0f} ms per call (`heavytail`: its own log-normal profile), "
        f"num_threads={s.get('threads', 16)}, max_metric_calls={s.get('latency_budget', 300)}; optimizers run back to "
        f"back for each seed ({s.get('latency_seeds', '?')} seeds × {s.get('latency_repeats', 1)} rounds). Wall = "
        "median; ratios = median of the paired ratios (same seed and round). Ideal bound = seconds of task-LM calls "
        "made during `compile` / threads (every call packed perfectly, reflection time ignored). Time to target = "
        "first second at which the mean (over runs) test score of the incumbent reaches dspy.GEPA's mean final test "
        "score; ÷ dspy wall = that time over dspy.GEPA's median wall-clock."
        + (f" 1-minute load average during the runs: median {statistics.median(loads):.1f}, max {max(loads):.1f} "
           "(2 cores)." if loads else ""),
        "",
        "| World | Optimizer | Runs | Wall (s) | × ideal | × dspy.GEPA | × PxN | Test score | Time to target | "
        "÷ dspy wall | Reflection calls |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (task,), rs in _group(recs, "task").items():
        by_opt = _group(rs, "optimizer")
        base = by_opt.get((BASELINE,))
        pxn = by_opt.get((PXN,))
        target = _mean([r["test_score"] for r in base]) if base else None
        base_wall = statistics.median([r["wall_time_s"] for r in base]) if base else None
        for opt in _opt_order(o for (o,) in by_opt):
            g = by_opt[(opt,)]
            wall = statistics.median([r["wall_time_s"] for r in g])
            ratio = statistics.median([r["wall_time_s"] / r["ideal_time_s"] for r in g])
            vs, vs_pxn = _paired_ratio(g, base), _paired_ratio(g, pxn)
            ttt = time_to_target(g, "seconds", target) if target is not None else math.inf
            ttt_ratio = ttt / base_wall if base_wall else float("nan")
            summary[(task, opt)] = {"ratio_to_ideal": ratio, "ratio_to_dspy": vs, "ratio_to_pxn": vs_pxn,
                                    "ttt_ratio": ttt_ratio, "test": _mean([r["test_score"] for r in g])}
            lines.append(
                f"| {task} | {_label(opt)} | {len(g)} | {wall:.2f} | {ratio:.2f} | {vs:.2f} | {vs_pxn:.2f} | "
                f"{_mean([r['test_score'] for r in g]):.3f} | {_fmt_ttt(ttt)} | "
                f"{'never' if math.isinf(ttt_ratio) else f'{ttt_ratio:.2f}'} | "
                f"{_mean([r['reflection_lm_calls'] for r in g]):.0f} |"
            )
    return lines, summary


def _overhead(data: dict[str, Any]) -> tuple[list[str], dict]:
    recs = data["records"]
    summary: dict[tuple, dict[str, float]] = {}
    s = data.get("settings", {})
    lines = [
        f"Zero-latency LMs, valset {s.get('overhead_val', 300)}, max_metric_calls={s.get('overhead_budget', 3000)}, "
        f"num_threads={s.get('threads', 16)}; each run in its own Python process; medians over "
        f"{s.get('repeats', 3)} runs. Time is `compile` only; peak RSS is the process's `ru_maxrss` "
        "(baseline: after imports and task generation, before `compile`).",
        "",
        "| Task | Optimizer | Runs | Compile time (s) | × dspy.GEPA | Peak RSS (MiB) | Baseline RSS (MiB) | "
        "Peak − baseline (MiB) | × dspy.GEPA (peak) | Metric calls used |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (task,), rs in _group(recs, "task").items():
        by_opt = _group(rs, "optimizer")
        base = by_opt.get((BASELINE,))
        bt = statistics.median([r["wall_time_s"] for r in base]) if base else None
        bm = statistics.median([r["peak_rss_mb"] for r in base]) if base else None
        for opt in _opt_order(o for (o,) in by_opt):
            g = by_opt[(opt,)]
            t = statistics.median([r["wall_time_s"] for r in g])
            m = statistics.median([r["peak_rss_mb"] for r in g])
            b = statistics.median([r["baseline_rss_mb"] for r in g])
            used = max(max(r["metric_calls_counted"], r.get("metric_calls_reported") or 0) for r in g)
            summary[(task, opt)] = {
                "time_ratio": t / bt if bt else float("nan"),
                "mem_ratio": m / bm if bm else float("nan"),
            }
            lines.append(
                f"| {task} | {_label(opt)} | {len(g)} | {t:.2f} | {t / bt if bt else float('nan'):.2f} | {m:.0f} | "
                f"{b:.0f} | {m - b:.0f} | {m / bm if bm else float('nan'):.2f} | {used} |"
            )
    return lines, summary


def _budget(data: dict[str, dict[str, Any]]) -> tuple[list[str], dict[str, float]]:
    lines = [
        "Calls used = the larger of `detailed_results.total_metric_calls` (reported) and the metric calls without "
        "`pred_name` counted by a wrapper around the metric (each equal to one program forward call here).",
        "",
        "| Suite | Optimizer | Runs | Runs over budget | Max overshoot (calls) | Max used / budget | "
        "Reported ≠ counted |",
        "|---|---|---|---|---|---|---|",
    ]
    within: dict[str, float] = {}  # optimizer -> max calls used / budget over every run
    for suite, d in data.items():
        by_opt = _group(d["records"], "optimizer")
        for opt in _opt_order(o for (o,) in by_opt):
            g = by_opt[(opt,)]
            used = [max(r["metric_calls_counted"], r.get("metric_calls_reported") or 0) for r in g]
            over = [u - r["budget"] for u, r in zip(used, g, strict=True)]
            mismatch = sum(1 for r in g if r.get("metric_calls_reported") != r["metric_calls_counted"])
            within[opt] = max(within.get(opt, 0.0), max(u / r["budget"] for u, r in zip(used, g, strict=True)))
            lines.append(
                f"| {suite} | {_label(opt)} | {len(g)} | {sum(o > 0 for o in over)} | {max(0, max(over))} | "
                f"{max(u / r['budget'] for u, r in zip(used, g, strict=True)):.3f} | {mismatch} |"
            )
    return lines, within


def _targets(quality: dict, latency: dict, overhead: dict, within: dict[str, float], small: int = 100) -> list[str]:
    """The goal table of issue 14 (and the budget invariant), each row measured from the tables above."""
    if OURS not in within:
        return [f"Not evaluated: no `{OURS}` results yet (run with `--optimizers dspy,{OURS}`)."]

    def mark(ok: bool | None) -> str:
        return "n/a" if ok is None else ("✅" if ok else "❌")

    rows = []
    lat = {k[0]: v for k, v in latency.items() if k[1] == OURS}
    if lat:
        worst_ttt = max(v["ttt_ratio"] for v in lat.values())
        worst_ideal = max(v["ratio_to_ideal"] for v in lat.values())
        worst_dspy = max(v["ratio_to_dspy"] for v in lat.values())
        rows.append(("time to dspy.GEPA's final test score ≤ 0.33× dspy.GEPA's wall-clock (every world)",
                     "never on some world" if math.isinf(worst_ttt) else f"max {worst_ttt:.2f}×", worst_ttt <= 0.33))
        rows.append(("wall-clock ≤ 0.5× dspy.GEPA at equal budget (every world)", f"max {worst_dspy:.2f}×",
                     worst_dspy <= 0.5))
        pxn = [v["ratio_to_pxn"] for v in lat.values() if not math.isnan(v["ratio_to_pxn"])]
        if pxn:
            rows.append(("wall-clock ≤ 0.7× dspy.GEPA + PxN (every world)", f"max {max(pxn):.2f}×", max(pxn) <= 0.7))
        rows.append(("wall-clock ≤ 1.5× ideal bound (every world)", f"max {worst_ideal:.2f}×", worst_ideal <= 1.5))
    for base, name in ((BASELINE, "dspy.GEPA"), (PXN, "dspy.GEPA + PxN")):
        deltas, small_deltas = [], []
        for (task, budget, opt), ours in quality.items():
            other = quality.get((task, budget, base)) if opt == OURS else None
            common = sorted(set(ours) & set(other or {}))
            if common:
                d = _mean([ours[s] for s in common]) - _mean([other[s] for s in common])
                deltas.append(d)
                if budget <= small:
                    small_deltas.append(d)
        if deltas:
            rows.append((f"test score ≥ {name}'s on every world and budget (same seeds)", f"min Δ {min(deltas):+.3f}",
                         min(deltas) >= 0))
        if small_deltas:
            rows.append((f"… at budgets ≤ {small}", f"min Δ {min(small_deltas):+.3f}", min(small_deltas) >= 0))
        if deltas and base == BASELINE:
            rows.append(("test score ≥ +0.05 over dspy.GEPA on average", f"mean Δ {_mean(deltas):+.3f}",
                         _mean(deltas) >= 0.05))
    ov = [v for k, v in overhead.items() if k[1] == OURS]
    if ov:
        t = max(v["time_ratio"] for v in ov)
        m = max(v["mem_ratio"] for v in ov)
        rows.append(("engine overhead time ≤ 0.5× dspy.GEPA's", f"max {t:.2f}×", t <= 0.5))
        rows.append(("peak memory no higher than dspy.GEPA's", f"max {m:.2f}×", m <= 1.0))
    rows.append(
        ("metric calls used ≤ max_metric_calls in every run", f"max {within[OURS]:.3f}× budget", within[OURS] <= 1.0)
    )
    lines = ["| Target | Measured | Met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {mark(ok)} |" for name, value, ok in rows]
    return lines


# --------------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------------

PLOT_DIR = "plots"


def write_plots(data: dict[str, dict[str, Any]], out_dir: Path, budget: int = 300) -> list[tuple[str, str]]:
    """One PNG per world: test score of the incumbent against metric calls (quality suite at ``budget``) and
    against seconds (latency suite), one line per optimizer (mean over runs), the band from min to max.
    Returns ``(world, file name)`` pairs; nothing when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is in the benchmarks extra
        return []
    quality = _group([r for r in data.get("quality", {}).get("records", []) if r.get("budget") == budget
                      and r.get("curve")], "task")
    latency = _group([r for r in data.get("latency", {}).get("records", []) if r.get("curve")], "task")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for (task,) in sorted(set(quality) | set(latency), key=lambda k: WORLD_ORDER.get(k[0], 99)):
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        for ax, (records, axis, xlabel) in zip(axes, ((quality.get((task,), []), "calls", "metric calls"),
                                                      (latency.get((task,), []), "seconds", "wall-clock (s)")),
                                               strict=True):
            for opt, g in ((o, [r for r in records if r["optimizer"] == o])
                           for o in _opt_order(r["optimizer"] for r in records)):
                grid = _grid(g, axis)
                mean, low, high = mean_curve(g, axis, grid)
                if not mean:
                    continue
                line, = ax.plot(grid, mean, label=f"{_label(opt)} ({len(g)} runs)", drawstyle="steps-post")
                ax.fill_between(grid, low, high, step="post", alpha=0.12, color=line.get_color())
            ax.set_xlabel(xlabel)
            ax.set_ylabel("test score")
            ax.grid(alpha=0.3)
            if not records:
                ax.text(0.5, 0.5, "no runs", ha="center", transform=ax.transAxes)
        axes[0].set_title(f"{task}: budget {budget}, zero latency")
        axes[1].set_title(f"{task}: with latency")
        handles, labels = axes[0].get_legend_handles_labels()
        if not handles:
            handles, labels = axes[1].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
        fig.tight_layout(rect=(0, 0.12, 1, 1))
        name = f"{task}.png"
        fig.savefig(out_dir / name, dpi=80)
        plt.close(fig)
        written.append((task, name))
    return written


def render(results_dir: Path, plots: bool = False, readme_dir: Path | None = None) -> str:
    """The generated README section. With ``plots``, the PNGs are (re)drawn into ``results_dir/plots`` and linked
    relative to ``readme_dir`` (default: benchmarks/, where the README lives)."""
    data = _load(results_dir)
    scaling_path = results_dir / "scaling.json"
    if not data and not scaling_path.exists():
        return "No results yet: run `python -m benchmarks.compare --suite all`."
    out = [
        "Generated by `python -m benchmarks.compare` from `benchmarks/scripted/results/*.json`; do not edit by hand.",
        "Scripted worlds with deterministic fake LMs (`benchmarks/scripted/`): the task LM answers right only when "
        "the predictor's instruction holds the rule for the input's hidden category, and the rules are revealed "
        "only by the metric's textual feedback (sometimes vaguely or wrongly); the fake reflection LM adds hinted "
        "rules with deterministic imperfections and a rule cap. Search defaults were tuned on the *tuning* worlds "
        f"({', '.join(TUNING_WORLDS)}) only; the *reporting* worlds ({', '.join(REPORTING_WORLDS)}) were never tuned "
        "on.",
        "",
        *[_env_line(s, d) for s, d in data.items()],
        "",
        "Reproduce: `python -m benchmarks.compare --suite quality|latency|overhead|all "
        "[--optimizers dspy,dspy_pxn,dspy_gepa,dspy_gepa_paper] [--seeds N]` (`--suite scaling` separately: it takes "
        "about 40 minutes on 2 idle cores); `--report-only` rewrites this section from the JSON.",
        "",
    ]
    tasks = _tasks_table(data)
    if tasks:
        out += ["### Worlds", "", *tasks, ""]
    quality = latency = overhead = {}
    if "quality" in data:
        lines, quality = _quality(data["quality"])
        out += [
            "### Quality at equal budget",
            "",
            "Zero-latency LMs; optimizer seeds 0..N−1 on one data seed "
            f"({data['quality'].get('settings', {}).get('data_seed', 0)}); test = held-out split; "
            f"num_threads={data['quality'].get('settings', {}).get('threads', 16)}. Budget B (V): max_metric_calls=B "
            "on the world generated with a valset of V examples. Δ = mean paired difference to dspy.GEPA (same "
            "seeds). Metric calls to dspy.GEPA's score: first metric call count at which the mean test score of the "
            "incumbent reaches dspy.GEPA's mean final test score.",
            "",
            *lines,
            "",
        ]
    if "latency" in data:
        lines, latency = _latency(data["latency"])
        out += ["### Wall-clock and time to target with simulated latency", "", *lines, ""]
    if plots:
        written = write_plots(data, results_dir / PLOT_DIR)
        if written:
            base = readme_dir or (results_dir.parent.parent if results_dir.name == "results" else results_dir)
            rel = (results_dir / PLOT_DIR).resolve()
            try:
                rel = rel.relative_to(base.resolve())
            except ValueError:
                pass
            out += ["### Curves", "",
                    "Test score of the incumbent (mean over runs; band: min to max) against metric calls (quality "
                    "suite, budget 300) and against wall-clock (latency suite).", ""]
            out += [f"![{task}]({rel.as_posix()}/{name})" for task, name in written]
            out += [""]
    if "overhead" in data:
        lines, overhead = _overhead(data["overhead"])
        out += ["### Engine overhead (zero latency)", "", *lines, ""]
    if data:
        lines, within = _budget(data)
        out += ["### Budget adherence", "", *lines, ""]
        out += ["### Targets", "", *_targets(quality, latency, overhead, within)]
    if scaling_path.exists():
        out += ["", "### Engine cost against run length (`scaling`)", "",
                *scaling.render(json.loads(scaling_path.read_text()))]
    return "\n".join(out)


def write_readme(path: Path, body: str) -> None:
    """Replace only what lies between the markers; create the file or the section if missing."""
    block = f"{START}\n{body.strip()}\n{END}"
    if path.exists():
        text = path.read_text()
        if START in text and END in text and text.index(START) < text.index(END):
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            path.write_text(head + block + tail)
            return
        sep = "" if text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        path.write_text(f"{text}{sep}{SECTION_TITLE}\n\n{block}\n")
        return
    path.write_text(f"# Benchmarks\n\n{SECTION_TITLE}\n\n{block}\n")
