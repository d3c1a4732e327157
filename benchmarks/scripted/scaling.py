"""The ``scaling`` suite: does the engine's cost stay flat as a run grows? (``python -m benchmarks.compare --suite
scaling``.)

Zero-latency scripted LMs on the ``routing`` world, so the time measured is the optimizers' own and DSPy's program
execution, nothing waited for. Every measurement runs in its own Python process (time and peak RSS are that process's
own), and the optimizers are interleaved run by run so drifting machine load hits both alike:

* ``run``: one compile per valset / budget (``--scaling-runs``), ``dspy.GEPA`` and ``dspy_gepa.GEPA`` in turn,
  ``--repeats`` times, both without ``log_dir`` (as ``dspy.GEPA`` runs by default).
* ``journal_run``, ``resume``, ``report``, ``show``: at the largest budget on the smallest valset, ``dspy_gepa.GEPA``
  once more with a ``log_dir`` (its journal), the same ``compile`` again on that ``log_dir`` (replays the finished
  run), then ``dspy-gepa report`` and ``dspy-gepa show`` on it (timed in the process, and as whole commands
  including Python's start-up).
* ``journal``: what that run's journal holds, per record type; and, once, the size of ``dspy.GEPA``'s pickled state
  (``gepa_state.bin`` in its ``log_dir``) at the second budget, for comparison.
* ``evaluate``, ``bigval``: a ``--bigval``-example valset scored once by ``dspy.Evaluate`` and validated by
  ``dspy_gepa.GEPA`` (``val_evaluation_policy="full"``, ``max_metric_calls`` = valset size: the seed's validation
  and nothing else) on the same program.
* ``largeval``: ``--largeval`` valset / budget with the default (staged) policy: what ``GEPA.plan()`` says before
  the run, and what the run did; ``dspy.GEPA`` on the same for comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.scripted.runner import current_rss_mb, environment, make_task, peak_rss_mb, quiet, run_one

OURS, BASELINE = "dspy_gepa", "dspy"
TASK = "routing"
#: Why each journal record type is kept (the journal-size table).
RECORD_USE = {
    "header": "format version and fingerprint: refuses a journal of another configuration",
    "run_started": "the session's settings and budget plan (report)",
    "rollout/train": "score and feedback replayed without a call; trajectory and output for later reflections",
    "rollout/val": "score replayed without a call; output for track_best_outputs and the report's tooltips",
    "reflection": "the proposed texts, replayed without a reflection call",
    "commit": "each proposal's outcome and cost (report; marks a proposal as replayed)",
    "candidate": "the pool with lineage and scores (report)",
    "validated": "a screened candidate's full validation (report)",
    "usage": "LM usage outside proposals (pre-flight checks)",
    "run_finished": "end of a session (report)",
    "run_failed": "end of a session (report)",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# children (each in its own process)
# --------------------------------------------------------------------------------------------------


def _journal_stats(log_dir: Path) -> dict[str, Any]:
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    with open(log_dir / "journal.jsonl", "rb") as f:
        for line in f:
            record = json.loads(line)
            kind = record["type"] + (f"/{record['key'][1]}" if record["type"] == "rollout" else "")
            sizes[kind] += len(line)
            counts[kind] += 1
            if record["type"] == "rollout":
                for name, value in record.items():
                    fields[f"{kind}.{name}"] += len(json.dumps(value, ensure_ascii=False)) + len(name) + 4
    return {"journal_bytes": sum(sizes.values()), "record_bytes": dict(sizes), "record_counts": dict(counts),
            "rollout_field_bytes": dict(fields)}


def _child_run(spec: dict[str, Any]) -> dict[str, Any]:
    task = make_task(TASK, spec["data_seed"], spec["n_val"])
    baseline = current_rss_mb() or peak_rss_mb()
    options = dict(spec.get("options") or {})
    if spec.get("log_dir"):
        options["log_dir"] = spec["log_dir"]
    rec = run_one(task, spec["optimizer"], seed=0, budget=spec["budget"], num_threads=spec["threads"],
                  score_test=False, options=options)
    rec.update(baseline_rss_mb=round(baseline, 1), peak_rss_mb=round(peak_rss_mb(), 1))
    for key in ("best_instructions", "peak_rss_scope"):
        rec.pop(key, None)
    if spec.get("log_dir") and spec["optimizer"] == OURS:
        rec.update(_journal_stats(Path(spec["log_dir"])))
    if spec.get("log_dir") and spec["optimizer"] == BASELINE:
        state = Path(spec["log_dir"]) / "gepa_state.bin"
        rec["state_bytes"] = state.stat().st_size if state.exists() else None
    return rec


#: The ``dspy-gepa`` console script (``dspy_gepa.cli:main``), timing itself after Python's start-up and imports.
_CLI = """import contextlib, io, sys, time
from dspy_gepa.cli import main
t = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(time.perf_counter() - t, "dspy" in sys.modules, file=sys.stderr)
sys.exit(code)
"""


def _child_cli(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs ``dspy-gepa report|show`` as its own process; its peak RSS is the only child's ``ru_maxrss``."""
    import resource

    with tempfile.TemporaryDirectory(prefix="gepa-report-") as out:
        argv = [spec["command"], spec["log_dir"]] + (["--output", str(Path(out) / "report.html")]
                                                     if spec["command"] == "report" else [])
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _CLI, *argv], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
    in_process, dspy_imported = proc.stderr.strip().splitlines()[-1].split()
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"in_process_s": round(float(in_process), 4), "command_s": round(wall, 4),
            "peak_rss_mb": round(rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024, 1),
            "dspy_imported": dspy_imported == "True"}


def _child_evaluate(spec: dict[str, Any]) -> dict[str, Any]:
    import dspy

    task = make_task(TASK, spec["data_seed"], spec["n_val"])
    baseline = current_rss_mb() or peak_rss_mb()
    evaluate = dspy.Evaluate(devset=task.valset, metric=lambda gold, pred, trace=None: task.metric(gold, pred).score,
                             num_threads=spec["threads"], display_progress=False)
    program = task.make_program()
    with dspy.context(lm=task.task_lm()):
        t0 = time.perf_counter()
        evaluate(program)
        wall = time.perf_counter() - t0
    return {"wall_time_s": round(wall, 4), "n_val": len(task.valset), "baseline_rss_mb": round(baseline, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def _child_largeval(spec: dict[str, Any]) -> dict[str, Any]:
    import dspy

    from benchmarks.scripted.runner import OPTIMIZERS, CountingMetric

    task = make_task(TASK, spec["data_seed"], spec["n_val"])
    metric = CountingMetric(task.metric)
    opt = OPTIMIZERS[spec["optimizer"]](metric=metric, max_metric_calls=spec["budget"],
                                         reflection_lm=task.reflection_lm(), num_threads=spec["threads"], seed=0,
                                         track_stats=True)
    rec: dict[str, Any] = {}
    if spec["optimizer"] == OURS:
        with dspy.context(lm=task.task_lm()):
            p = opt.plan(task.make_program(), task.trainset, task.valset)
        rec["plan"] = {k: getattr(p, k) for k in ("seed_validation", "final_reserve", "screen_size",
                                                   "per_rejected_proposal", "per_accepted_proposal", "proposals_min",
                                                   "proposals_max", "seed_screened")}
        rec["plan_text"] = str(p)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            dspy.context(lm=task.task_lm()):
        t0 = time.perf_counter()
        compiled = opt.compile(task.make_program(), trainset=task.trainset, valset=task.valset)
        wall = time.perf_counter() - t0
    results = compiled.detailed_results
    rec.update(wall_time_s=round(wall, 3), metric_calls_counted=metric.rollouts.value,
               metric_calls_reported=results.total_metric_calls,
               num_candidates=len(results.val_aggregate_scores) + len(getattr(results, "screened_candidates", [])),
               best_val_score=results.val_aggregate_scores[results.best_idx])
    proposals = getattr(results, "proposals", None)
    if proposals:
        rec["did"] = {
            "seed_validation": proposals[0]["metric_calls"],
            "proposals": sum(1 for p in proposals if p["kind"] in ("reflective", "merge")),
            "children_validated": sum(1 for p in proposals if p["status"] in ("accepted", "merge_accepted",
                                                                              "screened_out")),
            "final_validations": sum(1 for p in proposals if p["kind"] == "final"),
            "stop_reason": results.stop_reason,
        }
    return rec


CHILDREN = {"run": _child_run, "journal_run": _child_run, "resume": _child_run, "cli": _child_cli, "evaluate": _child_evaluate,
            "bigval": _child_run, "largeval": _child_largeval}


def child_main(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs inside the subprocess (``--scaling-child``): one measurement, returned as a record."""
    quiet()
    rec = CHILDREN[spec["kind"]](spec)
    return {**{k: v for k, v in spec.items() if k not in ("options",)}, **rec, **environment()}


# --------------------------------------------------------------------------------------------------
# the suite (parent process)
# --------------------------------------------------------------------------------------------------


def _spawn(spec: dict[str, Any], root: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.compare", "--scaling-child", json.dumps(spec)], cwd=root,
                          env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"scaling child failed ({spec}):\n{proc.stderr[-3000:]}")
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    rec["process_wall_time_s"] = round(wall, 3)
    return rec


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def suite_scaling(args: argparse.Namespace, optimizers: list[str], root: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    base = {"data_seed": args.data_seed, "threads": args.threads}
    runs = [tuple(int(x) for x in pair.split(":")) for pair in args.scaling_runs]
    resume_at = (min(v for v, _ in runs), max(b for v, b in runs if v == min(v for v, _ in runs)))
    tmp = Path(tempfile.mkdtemp(prefix="gepa-scaling-"))

    def add(rec: dict[str, Any]) -> dict[str, Any]:
        rec["load_average"] = _load_average()
        records.append(rec)
        return rec

    try:
        for repeat in range(args.repeats):
            for n_val, budget in runs:
                for opt in optimizers:
                    rec = add(_spawn({**base, "kind": "run", "optimizer": opt, "n_val": n_val, "budget": budget,
                                      "repeat": repeat}, root))
                    log(f"scaling run {opt} val={n_val} budget={budget} repeat={repeat}: {rec['wall_time_s']:.2f}s, "
                        f"{rec['num_candidates']} candidates, peak RSS {rec['peak_rss_mb']:.0f} MiB, "
                        f"load {rec['load_average']}")
                    if opt == OURS and (n_val, budget) == resume_at:
                        log_dir = tmp / f"{opt}-{n_val}-{budget}-{repeat}"
                        spec = {**base, "optimizer": opt, "n_val": n_val, "budget": budget, "repeat": repeat,
                                "log_dir": str(log_dir)}
                        j = add(_spawn({**spec, "kind": "journal_run"}, root))
                        log(f"scaling run with journal: {j['wall_time_s']:.2f}s, peak RSS {j['peak_rss_mb']:.0f} MiB, "
                            f"journal {j['journal_bytes'] / 1e6:.1f} MB")
                        r = add(_spawn({**spec, "kind": "resume"}, root))
                        log(f"scaling resume: {r['wall_time_s']:.2f}s, peak RSS {r['peak_rss_mb']:.0f} MiB, "
                            f"task-LM calls {r['task_lm_calls']}")
                        for command in ("report", "show"):
                            c = add(_spawn({**spec, "kind": "cli", "command": command}, root))
                            log(f"scaling {command}: {c['in_process_s']:.2f}s in process, "
                                f"{c['command_s']:.2f}s as a command, peak RSS {c['peak_rss_mb']:.0f} MiB")
                        shutil.rmtree(log_dir, ignore_errors=True)
        if BASELINE in optimizers and len(runs) > 1:
            n_val, budget = sorted(runs)[1]
            log_dir = tmp / "dspy-state"
            rec = add(_spawn({**base, "kind": "run", "optimizer": BASELINE, "n_val": n_val, "budget": budget,
                              "repeat": "state", "log_dir": str(log_dir)}, root))
            log(f"scaling dspy.GEPA state at val={n_val} budget={budget}: {rec.get('state_bytes')} bytes")
        if args.bigval:
            for repeat in range(args.repeats):
                e = add(_spawn({**base, "kind": "evaluate", "optimizer": "dspy.Evaluate", "n_val": args.bigval,
                                "budget": args.bigval, "repeat": repeat}, root))
                g = add(_spawn({**base, "kind": "bigval", "optimizer": OURS, "n_val": args.bigval,
                                "budget": args.bigval, "repeat": repeat,
                                "options": {"val_evaluation_policy": "full"}}, root))
                log(f"scaling bigval {args.bigval}: dspy.Evaluate {e['wall_time_s']:.2f}s, ours {g['wall_time_s']:.2f}s")
        if args.largeval:
            n_val, budget = (int(x) for x in args.largeval.split(":"))
            for opt in optimizers:
                r = add(_spawn({**base, "kind": "largeval", "optimizer": opt, "n_val": n_val, "budget": budget,
                                "repeat": 0}, root))
                log(f"scaling largeval {opt} val={n_val} budget={budget}: {r['metric_calls_reported']} calls, "
                    f"did {r.get('did')}, plan {r.get('plan')}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return records


# --------------------------------------------------------------------------------------------------
# the README section
# --------------------------------------------------------------------------------------------------


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _by(records: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("✅" if ok else "❌")


def render(data: dict[str, Any]) -> list[str]:
    """The scaling section of benchmarks/README.md (lines), from results/scaling.json."""
    recs, s = data["records"], data.get("settings", {})
    env = data.get("last_run", {})
    loads = [r["load_average"][0] for r in recs if r.get("load_average")]
    out = [
        f"Generated by `{s.get('command', 'python -m benchmarks.compare --suite scaling')}` "
        f"(last run {env.get('timestamp', '?')}, {env.get('cpu_count')} cores, 1-minute load average "
        f"{min(loads, default=float('nan')):.1f}–{max(loads, default=float('nan')):.1f} during the runs). "
        f"Zero-latency LMs, `routing` world, num_threads={s.get('threads', 16)}, every measurement in its own process, "
        f"medians of {s.get('repeats', 3)} interleaved runs, both optimizers without `log_dir` (resume and report "
        "below use a run with one).",
        "",
        "| valset / budget | candidates (ours, screened included / dspy.GEPA) | dspy_gepa.GEPA | dspy.GEPA | ratio | "
        "ms per metric call "
        "(ours / dspy.GEPA) | peak RSS MiB (ours / dspy.GEPA) |",
        "|---|---|---|---|---|---|---|",
    ]
    targets: list[tuple[str, str, bool | None]] = []
    runs = sorted({(r["n_val"], r["budget"]) for r in _by(recs, kind="run") if r.get("repeat") != "state"})
    per_call: dict[tuple[int, int], float] = {}
    ratio: dict[tuple[int, int], float] = {}
    wall_ours: dict[tuple[int, int], float] = {}
    rss_ours: dict[tuple[int, int], float] = {}
    for n_val, budget in runs:
        ours = [r for r in _by(recs, kind="run", optimizer=OURS, n_val=n_val, budget=budget)]
        base = [r for r in _by(recs, kind="run", optimizer=BASELINE, n_val=n_val, budget=budget)
                if r.get("repeat") != "state"]
        t_o = _median([r["wall_time_s"] for r in ours])
        t_b = _median([r["wall_time_s"] for r in base])
        calls_o = _median([r["metric_calls_reported"] for r in ours])
        calls_b = _median([r["metric_calls_reported"] for r in base])
        per_call[(n_val, budget)] = 1000 * t_o / calls_o if ours else float("nan")
        ratio[(n_val, budget)] = t_o / t_b if ours and base else float("nan")
        wall_ours[(n_val, budget)] = t_o
        rss_ours[(n_val, budget)] = _median([r["peak_rss_mb"] for r in ours])
        pool = [r["num_candidates"] + (r.get("num_screened_candidates") or 0) for r in ours]
        cand = f"{_median(pool):.0f} / {_median([r['num_candidates'] for r in base]):.0f}"
        out.append(
            f"| {n_val:,} / {budget:,} | {cand} | {t_o:.1f} s | {t_b:.1f} s | {ratio[(n_val, budget)]:.2f}× | "
            f"{per_call[(n_val, budget)]:.2f} / {1000 * t_b / calls_b if base else float('nan'):.2f} | "
            f"{rss_ours[(n_val, budget)]:.0f} / {_median([r['peak_rss_mb'] for r in base]):.0f} |")
    small = min((v for v, _ in runs), default=None)
    budgets = sorted(b for v, b in runs if v == small)
    if len(budgets) > 1:
        lo, hi = (small, budgets[0]), (small, budgets[-1])
        growth = per_call[hi] / per_call[lo]
        targets.append((f"time per metric call at {hi[1]:,} calls ≤ 1.2× that at {lo[1]:,} (valset {small})",
                        f"{per_call[hi]:.2f} / {per_call[lo]:.2f} ms = {growth:.2f}×", growth <= 1.2))
        targets.append((f"the {hi[1]:,}-call run no slower than dspy.GEPA's", f"{ratio[hi]:.2f}×", ratio[hi] <= 1.0))

    resumes = _by(recs, kind="resume")
    if resumes:
        key = (resumes[0]["n_val"], resumes[0]["budget"])
        journal_runs = _by(recs, kind="journal_run")
        t_run = _median([r["wall_time_s"] for r in journal_runs])
        rss_run = _median([r["peak_rss_mb"] for r in journal_runs])
        t_resume = _median([r["wall_time_s"] for r in resumes])
        rss_resume = _median([r["peak_rss_mb"] for r in resumes])
        cli = {c: _by(recs, kind="cli", command=c) for c in ("report", "show")}
        out += ["", f"Resume and report of the finished {key[1]:,}-call run (valset {key[0]}), run again with a "
                "`log_dir`:", "",
                "| | time | × the run's time | peak RSS MiB | LM calls |", "|---|---|---|---|---|",
                f"| the run, writing its journal | {t_run:.1f} s (without `log_dir`: {wall_ours[key]:.1f} s) | 1 | "
                f"{rss_run:.0f} | |",
                f"| resume (`compile` again on its `log_dir`) | {t_resume:.2f} s | {t_resume / t_run:.3f} | "
                f"{rss_resume:.0f} | {max(r['task_lm_calls'] + r['reflection_lm_calls'] for r in resumes)} |"]
        targets.append(("resume of the finished run ≤ 5% of the run's time",
                        f"{100 * t_resume / t_run:.1f}% ({100 * t_resume / wall_ours[key]:.1f}% of the run without "
                        "`log_dir`)", t_resume <= 0.05 * t_run))
        cli_worst = 0.0
        for command, rs in cli.items():
            if not rs:
                continue
            inproc = _median([r["in_process_s"] for r in rs])
            whole = _median([r["command_s"] for r in rs])
            cli_worst = max(cli_worst, whole)
            out.append(f"| `dspy-gepa {command}` | {inproc:.2f} s in the process, {whole:.2f} s as a command | "
                       f"{whole / t_run:.3f} | {_median([r['peak_rss_mb'] for r in rs]):.0f} | |")
        rss_cli = max((_median([r["peak_rss_mb"] for r in rs]) for rs in cli.values() if rs), default=float("nan"))
        targets.append(("`dspy-gepa report` and `show` ≤ 1 s on its journal (whole command)", f"{cli_worst:.2f} s",
                        cli_worst <= 1.0))
        targets.append(("peak memory of resume and of the report ≤ the run's",
                        f"{rss_resume:.0f} and {rss_cli:.0f} ≤ {rss_run:.0f} MiB", max(rss_resume, rss_cli) <= rss_run))
        journals = [r for r in journal_runs if r.get("journal_bytes")]
        if journals:
            j = journals[-1]
            calls = j["metric_calls_reported"]
            out += ["", f"What the journal of that run holds ({j['journal_bytes'] / 1e6:.1f} MB, "
                    f"{1000 * j['journal_bytes'] / calls / 1e6:.2f} MB per 1,000 metric calls):", "",
                    "| record | count | bytes | per 1,000 calls | share | kept for |", "|---|---|---|---|---|---|"]
            for kind, size in sorted(j["record_bytes"].items(), key=lambda kv: -kv[1]):
                out.append(f"| `{kind}` | {j['record_counts'][kind]:,} | {size:,} | {1000 * size / calls / 1e3:.1f} kB | "
                           f"{100 * size / j['journal_bytes']:.1f}% | {RECORD_USE.get(kind, '')} |")
            fields = j.get("rollout_field_bytes", {})
            for kind in ("rollout/train", "rollout/val"):
                mine = sorted(((name.split(".", 1)[1], size) for name, size in fields.items()
                               if name.startswith(kind + ".")), key=lambda kv: -kv[1])
                if mine:
                    out += ["", f"A `{kind}` record, bytes per field: " + ", ".join(
                        f"`{name}` {size / j['record_counts'][kind]:.0f}" for name, size in mine) + "."]
            state = [r for r in _by(recs, kind="run", optimizer=BASELINE, repeat="state") if r.get("state_bytes")]
            if state:
                st = state[-1]
                out += ["", f"`dspy.GEPA`'s pickled state (`gepa_state.bin`) at valset {st['n_val']} / budget "
                        f"{st['budget']:,}: {st['state_bytes'] / 1e6:.2f} MB, "
                        f"{1000 * st['state_bytes'] / st['metric_calls_reported'] / 1e6:.3f} MB per 1,000 metric calls "
                        "(it keeps the pool and scores only: a resumed `dspy.GEPA` re-runs its seed validation and "
                        "cannot replay a rollout)."]
            targets.append(("journal size per 1,000 calls reported, with what each record costs",
                            f"{1000 * j['journal_bytes'] / calls / 1e6:.2f} MB", True))

    evaluates, bigvals = _by(recs, kind="evaluate"), _by(recs, kind="bigval")
    if evaluates and bigvals:
        n = evaluates[0]["n_val"]
        t_e = _median([r["wall_time_s"] for r in evaluates]) / n * 1000
        t_g = _median([r["wall_time_s"] / r["metric_calls_reported"] for r in bigvals]) * 1000
        m_e = _median([r["peak_rss_mb"] - r["baseline_rss_mb"] for r in evaluates])
        m_g = _median([r["peak_rss_mb"] - r["baseline_rss_mb"] for r in bigvals])
        out += ["", f"A {n:,}-example valset scored once (`dspy_gepa.GEPA`: `val_evaluation_policy=\"full\"`, "
                f"`max_metric_calls={n}`, i.e. the seed's validation and nothing else):", "",
                "| | ms per rollout | peak − baseline RSS (MiB) |", "|---|---|---|",
                f"| `dspy.Evaluate` | {t_e:.2f} | {m_e:.0f} |", f"| `dspy_gepa.GEPA` | {t_g:.2f} | {m_g:.0f} |"]
        targets.append((f"{n:,}-example valset: per-rollout cost ≤ 1.5× dspy.Evaluate's", f"{t_g / t_e:.2f}×",
                        t_g <= 1.5 * t_e))

    large = _by(recs, kind="largeval")
    if large:
        out += ["", f"Valset {large[0]['n_val']:,}, budget {large[0]['budget']:,} (default policy):", "",
                "| | seed validation | proposals | children validated | final validations | metric calls | "
                "candidates | best val score |", "|---|---|---|---|---|---|---|---|"]
        for r in large:
            did = r.get("did") or {}
            plan = r.get("plan")
            if plan:
                out.append(f"| `GEPA.plan()` said | {plan['seed_validation']:,}"
                           f"{' (screened)' if plan['seed_screened'] else ''} | {plan['proposals_min']}–"
                           f"{plan['proposals_max']} | | {'1+' if plan['final_reserve'] else '0'} "
                           f"({plan['final_reserve']:,} kept) | ≤ {r['budget']:,} | | |")
            name = "dspy_gepa.GEPA did" if r["optimizer"] == OURS else "dspy.GEPA did"
            out.append(f"| {name} | {did.get('seed_validation', '')} | {did.get('proposals', '')} | "
                       f"{did.get('children_validated', '')} | {did.get('final_validations', '')} | "
                       f"{r['metric_calls_reported']:,} | {r['num_candidates']} | {r['best_val_score']:.3f} |")
            if plan:
                ok = (did.get("proposals", 0) > 0 and plan["seed_validation"] == did.get("seed_validation")
                      and plan["proposals_min"] <= did["proposals"] <= plan["proposals_max"]
                      and r["metric_calls_reported"] > r["budget"] - plan["per_accepted_proposal"])
                targets.append((f"valset {r['n_val']:,} / budget {r['budget']:,}: proposals made, budget spent, "
                                "plan() matches", f"{did.get('proposals')} proposals, "
                                f"{r['metric_calls_reported']:,} of {r['budget']:,} calls", ok))
    out += ["", "| Target (issue 15) | Measured | Met |", "|---|---|---|"]
    out += [f"| {name} | {value} | {_mark(ok)} |" for name, value, ok in targets]
    return out
