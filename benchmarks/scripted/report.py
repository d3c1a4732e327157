"""Markdown tables from benchmarks/scripted/results/*.json, written between markers in benchmarks/README.md."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.scripted import scaling

START = "<!-- scripted-benchmarks:start -->"
END = "<!-- scripted-benchmarks:end -->"
SECTION_TITLE = "## Scripted benchmarks (generated)"
BASELINE = "dspy"
OURS = "dspy_gepa"
LABELS = {
    "dspy": "dspy.GEPA",
    "dspy_nomerge": "dspy.GEPA, use_merge=False",
    "dspy_gepa": "dspy_gepa.GEPA",
    "dspy_gepa_paper": "dspy_gepa.GEPA (paper mode)",
}


def _label(opt: str) -> str:
    return LABELS.get(opt, opt)


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
    order = {"routing": 0, "pipeline": 1}
    return dict(
        sorted(
            groups.items(),
            key=lambda kv: tuple((order.get(x, 9), x if isinstance(x, int) else 0, str(x)) for x in kv[0]),
        )
    )


def _opt_order(opts) -> list[str]:
    known = list(LABELS)
    return sorted(set(opts), key=lambda o: (known.index(o) if o in known else len(known), o))


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
        "| Task | Program | train / val / test | Seed program test score | Best reachable test score |",
        "|---|---|---|---|---|",
    ]
    for name, t in info.items():
        lines.append(
            f"| {name} | {t['description']} | {t['n_train']} / {t['n_val']} / {t['n_test']} | "
            f"{t['seed_program_test_score']:.3f} | {t['best_reachable_test_score']:.3f} |"
        )
    return lines


def _quality(data: dict[str, Any]) -> tuple[list[str], dict]:
    recs = data["records"]
    summary: dict[tuple, float] = {}
    lines = [
        "| Task | Budget | Optimizer | Test score mean ± sd | min – max | Val score mean | Seeds | "
        "Metric calls used (mean / max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (task, budget), rs in _group(recs, "task", "budget").items():
        by_opt = _group(rs, "optimizer")
        for opt in _opt_order(o for (o,) in by_opt):
            g = by_opt[(opt,)]
            test = [r["test_score"] for r in g]
            val = [r["val_score"] for r in g if r.get("val_score") is not None]
            used = [max(r["metric_calls_counted"], r.get("metric_calls_reported") or 0) for r in g]
            summary[(task, budget, opt)] = {r["seed"]: r["test_score"] for r in g}
            lines.append(
                f"| {task} | {budget} | {_label(opt)} | {_mean(test):.3f} ± {_sd(test):.3f} | "
                f"{min(test):.3f} – {max(test):.3f} | {_mean(val):.3f} | {len(g)} | "
                f"{_mean(used):.0f} / {max(used)} |"
            )
    return lines, summary


def _latency(data: dict[str, Any]) -> tuple[list[str], dict]:
    recs = data["records"]
    summary: dict[tuple, dict[str, float]] = {}
    s = data.get("settings", {})
    lines = [
        f"Task LM {s.get('task_latency', 0.05) * 1000:.0f} ms per call, reflection LM "
        f"{s.get('reflection_latency', 0.2) * 1000:.0f} ms per call, num_threads={s.get('threads', 16)}, "
        f"max_metric_calls={s.get('latency_budget', 300)}. Ideal bound = task-LM calls made during `compile` × "
        "task-LM latency / threads (every call packed perfectly, reflection time ignored); one rollout is 1 call "
        "in `routing` and 2 sequential calls in `pipeline`.",
        "",
        "| Task | Optimizer | Runs | Wall (s) | Ideal (s) | × ideal | × dspy.GEPA | Task-LM calls | "
        "Reflection calls | Test score |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (task,), rs in _group(recs, "task").items():
        by_opt = _group(rs, "optimizer")
        base = by_opt.get((BASELINE,))
        base_wall = _mean([r["wall_time_s"] for r in base]) if base else None
        for opt in _opt_order(o for (o,) in by_opt):
            g = by_opt[(opt,)]
            wall = _mean([r["wall_time_s"] for r in g])
            ideal = _mean([r["ideal_time_s"] for r in g])
            ratio = _mean([r["wall_time_s"] / r["ideal_time_s"] for r in g])
            vs = wall / base_wall if base_wall else float("nan")
            summary[(task, opt)] = {"ratio_to_ideal": ratio, "ratio_to_dspy": vs}
            lines.append(
                f"| {task} | {_label(opt)} | {len(g)} | {wall:.2f} | {ideal:.2f} | {ratio:.2f} | "
                f"{vs:.2f} | {_mean([r['task_lm_calls'] for r in g]):.0f} | "
                f"{_mean([r['reflection_lm_calls'] for r in g]):.0f} | {_mean([r['test_score'] for r in g]):.3f} |"
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


def _targets(quality: dict, latency: dict, overhead: dict, within: dict[str, float]) -> list[str]:
    if OURS not in within:
        return [f"Not evaluated: no `{OURS}` results yet (run with `--optimizers dspy,{OURS}`)."]

    def mark(ok: bool | None) -> str:
        return "n/a" if ok is None else ("✅" if ok else "❌")

    rows = []
    lat = [(k[0], v) for k, v in latency.items() if k[1] == OURS]
    if lat:
        worst_ideal = max(v["ratio_to_ideal"] for _, v in lat)
        worst_dspy = max(v["ratio_to_dspy"] for _, v in lat)
        rows.append(("wall-clock ≤ 1.5× ideal bound (every task)", f"max {worst_ideal:.2f}×", worst_ideal <= 1.5))
        rows.append(("wall-clock ≤ 0.4× dspy.GEPA (every task)", f"max {worst_dspy:.2f}×", worst_dspy <= 0.4))
    # Paired by seed: only seeds run by both optimizers count, per task and budget.
    pairs = []
    for (task, budget, opt), ours in quality.items():
        base = quality.get((task, budget, BASELINE)) if opt == OURS else None
        common = sorted(set(ours) & set(base or {}))
        if common:
            pairs.append((_mean([ours[s] for s in common]), _mean([base[s] for s in common])))
    if pairs:
        diffs = [v - b for v, b in pairs]
        rows.append(
            (
                "test score ≥ dspy.GEPA's on every task and budget (same seeds)",
                f"min Δ {min(diffs):+.3f}",
                min(diffs) >= 0,
            )
        )
        rows.append(("test score higher on average", f"mean Δ {_mean(diffs):+.3f}", _mean(diffs) > 0))
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


def render(results_dir: Path) -> str:
    data = _load(results_dir)
    scaling_path = results_dir / "scaling.json"
    if not data and not scaling_path.exists():
        return "No results yet: run `python -m benchmarks.compare --suite all`."
    out = [
        "Generated by `python -m benchmarks.compare` from `benchmarks/scripted/results/*.json`; do not edit by hand.",
        "Scripted tasks with deterministic fake LMs (`benchmarks/scripted/`): the task LM answers right only when "
        "the predictor's instruction holds the rule for the input's hidden category, and the rules are revealed "
        "only by the metric's textual feedback (sometimes vaguely or wrongly); the fake reflection LM adds hinted "
        "rules with deterministic imperfections and a rule cap.",
        "",
        *[_env_line(s, d) for s, d in data.items()],
        "",
        "Reproduce: `python -m benchmarks.compare --suite quality|latency|overhead|all "
        "[--optimizers dspy,dspy_gepa,...] [--seeds N]` (`--suite scaling` separately: it takes about an hour); "
        "`--report-only` rewrites this section from the JSON.",
        "",
    ]
    tasks = _tasks_table(data)
    if tasks:
        out += ["### Tasks", "", *tasks, ""]
    quality = latency = overhead = {}
    if "quality" in data:
        lines, quality = _quality(data["quality"])
        out += [
            "### Quality at equal budget",
            "",
            "Zero-latency LMs; optimizer seeds 0..N−1 on one data seed "
            f"({data['quality'].get('settings', {}).get('data_seed', 0)}); test = held-out split; "
            f"num_threads={data['quality'].get('settings', {}).get('threads', 16)}. "
            "`dspy.GEPA, use_merge=False` (when present) is an ablation showing where merge matters.",
            "",
            *lines,
            "",
        ]
    if "latency" in data:
        lines, latency = _latency(data["latency"])
        out += ["### Wall-clock with simulated latency", "", *lines, ""]
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
