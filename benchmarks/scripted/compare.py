"""Side-by-side benchmarks of GEPA optimizers on scripted DSPy tasks with deterministic fake LMs.

    python -m benchmarks.compare --suite all                       # everything, every available optimizer
    python -m benchmarks.compare --suite quality --seeds 10 --budgets 60:10,100,300,600
    python -m benchmarks.compare --suite latency --optimizers dspy,dspy_pxn,dspy_gepa --latency-repeats 3
    python -m benchmarks.compare --suite overhead --repeats 3
    python -m benchmarks.compare --suite scaling                   # engine cost against run length (long)
    python -m benchmarks.compare --report-only                     # rewrite the README table from results/

Suites (see benchmarks/README.md for what each measures):
  quality   test score at equal budget over seeds; zero-latency LMs; one process. A budget "B:V" runs budget B
            on the world regenerated with a validation set of V examples (small budgets need small valsets).
  latency   wall-clock with simulated latency (50 ms task LM, 200 ms reflection LM, or the world's own profile;
            16 threads, budget 300); optimizers interleaved seed by seed, repeated --latency-repeats times.
  overhead  zero-latency LMs, valset 300, 3,000 metric calls, each run in its own subprocess: time, peak RSS.
  scaling   zero-latency LMs, budgets up to 30,000 and valsets up to 10,000, each measurement in its own subprocess:
            time per metric call as runs grow, resume, report, journal size, large valsets (see scaling.py).
            Not part of "all".
Every suite also records metric calls used vs max_metric_calls (budget adherence), and every run its curve
(test score of the incumbent against metric calls and seconds), drawn in benchmarks/scripted/results/plots/.

Results are merged into benchmarks/scripted/results/<suite>.json (records of the optimizers/tasks/seeds run now
replace older ones with the same key; others are kept), then benchmarks/README.md's generated section is rewritten.
"""

from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks.scripted import TASKS, report, scaling  # noqa: E402
from benchmarks.scripted.runner import (  # noqa: E402
    OPTIMIZERS,
    BudgetSpec,
    current_rss_mb,
    environment,
    make_task,
    optimizer_available,
    peak_rss_mb,
    quiet,
    run_one,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"
TASK_NAMES = tuple(TASKS)
RECORD_KEY = ("task", "optimizer", "seed", "budget", "repeat")
SUITE_KEYS = {"scaling": ("kind", "optimizer", "n_val", "budget", "repeat", "command")}


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# results files
# --------------------------------------------------------------------------------------------------


def load_results(suite: str, results_dir: Path = RESULTS) -> dict[str, Any]:
    path = results_dir / f"{suite}.json"
    if path.exists():
        return json.loads(path.read_text())
    return {"suite": suite, "records": []}


def save_results(
    suite: str, new_records: list[dict[str, Any]], settings: dict[str, Any], results_dir: Path = RESULTS
) -> Path:
    """Merge ``new_records`` into results/<suite>.json, replacing records with the same key."""
    data = load_results(suite, results_dir)
    fields = SUITE_KEYS.get(suite, RECORD_KEY)
    key = lambda r: tuple(r.get(k) for k in fields)  # noqa: E731
    fresh = {key(r) for r in new_records}
    records = [r for r in data["records"] if key(r) not in fresh] + new_records
    records.sort(key=lambda r: tuple(str(r.get(k)) for k in fields))
    data.update(suite=suite, records=records, last_run=environment(), settings=settings)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{suite}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    return path


def _tasks_info(tasks: list[str], data_seed: int, n_val: int | None = None) -> dict[str, Any]:
    out = {}
    for name in tasks:
        task = make_task(name, data_seed, n_val)
        out[name] = {
            "description": task.description,
            "seed_program_test_score": round(task.score(task.make_program(), task.testset), 4),
            "best_reachable_test_score": round(task.oracle_expected, 4),
            "n_train": len(task.trainset),
            "n_val": len(task.valset),
            "n_test": len(task.testset),
            **task.info,
        }
    return out


# --------------------------------------------------------------------------------------------------
# suites
# --------------------------------------------------------------------------------------------------


def suite_quality(args: argparse.Namespace, optimizers: list[str]) -> list[dict[str, Any]]:
    records = []
    for task_name in args.tasks:
        for spec in args.budgets:
            task = make_task(task_name, args.data_seed, spec.n_val)
            budget = spec.budget
            for opt in optimizers:
                for seed in range(args.seeds):
                    rec = run_one(task, opt, seed=seed, budget=budget, num_threads=args.threads)
                    rec.update(suite="quality", repeat=0, seed_test_score=task.test_score(_seed_texts(task)))
                    records.append(rec)
                    log(
                        f"quality {task_name} budget={budget} {opt} seed={seed}: test={rec['test_score']:.3f} "
                        f"calls={rec['metric_calls_reported']}/{budget} ({rec['wall_time_s']:.1f}s)"
                    )
    return records


def _seed_texts(task: Any) -> dict[str, str]:
    return {n: p.signature.instructions for n, p in task.make_program().named_predictors()}


def suite_latency(args: argparse.Namespace, optimizers: list[str]) -> list[dict[str, Any]]:
    """Optimizers interleaved run by run (same seed back to back), so drifting machine load hits all alike."""
    records = []
    for repeat in range(args.latency_repeats):
        for task_name in args.tasks:
            task = make_task(task_name, args.data_seed)
            for seed in range(args.latency_seeds):
                for opt in optimizers:
                    load = load_average()
                    rec = run_one(
                        task,
                        opt,
                        seed=seed,
                        budget=args.latency_budget,
                        num_threads=args.threads,
                        task_latency=args.task_latency,
                        reflection_latency=args.reflection_latency,
                    )
                    rec.update(suite="latency", repeat=repeat, load_average=load,
                               ratio_to_ideal=round(rec["wall_time_s"] / rec["ideal_time_s"], 3),
                               seed_test_score=task.test_score(_seed_texts(task)))
                    records.append(rec)
                    log(
                        f"latency {task_name} {opt} seed={seed} repeat={repeat}: {rec['wall_time_s']:.2f}s, ideal "
                        f"{rec['ideal_time_s']:.2f}s (x{rec['ratio_to_ideal']:.2f}), test {rec['test_score']:.3f}, "
                        f"calls={rec['metric_calls_reported']}/{args.latency_budget}, load {load}"
                    )
    return records


def _overhead_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs inside the subprocess: one optimizer, one task, zero latency; reports time and peak RSS."""
    quiet()
    task = make_task(spec["task"], spec["data_seed"], spec["n_val"])
    baseline = current_rss_mb() or peak_rss_mb()
    rec = run_one(task, spec["optimizer"], seed=spec["seed"], budget=spec["budget"], num_threads=spec["threads"])
    rec.update(
        suite="overhead",
        repeat=spec["repeat"],
        baseline_rss_mb=round(baseline, 1),
        peak_rss_mb=round(peak_rss_mb(), 1),
        peak_rss_scope="own process (this run only)",
    )
    return rec


def suite_overhead(args: argparse.Namespace, optimizers: list[str]) -> list[dict[str, Any]]:
    records = []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    for task_name in args.tasks:
        for repeat in range(args.repeats):
            for opt in optimizers:  # interleaved, so drifting machine load hits every optimizer alike
                spec = {
                    "task": task_name,
                    "optimizer": opt,
                    "seed": 0,
                    "budget": args.overhead_budget,
                    "n_val": args.overhead_val,
                    "threads": args.threads,
                    "data_seed": args.data_seed,
                    "repeat": repeat,
                }
                t0 = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-m", "benchmarks.compare", "--overhead-child", json.dumps(spec)],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if proc.returncode != 0:
                    raise RuntimeError(f"overhead child failed ({opt}, {task_name}):\n{proc.stderr[-3000:]}")
                rec = json.loads(proc.stdout.strip().splitlines()[-1])
                rec["process_wall_time_s"] = round(time.perf_counter() - t0, 3)
                records.append(rec)
                log(
                    f"overhead {task_name} {opt} repeat={repeat}: compile {rec['wall_time_s']:.2f}s, "
                    f"peak RSS {rec['peak_rss_mb']:.0f} MiB (baseline {rec['baseline_rss_mb']:.0f}), "
                    f"calls={rec['metric_calls_reported']}/{args.overhead_budget}"
                )
    return records


SUITES = {"quality": suite_quality, "latency": suite_latency, "overhead": suite_overhead,
          "scaling": lambda args, optimizers: scaling.suite_scaling(args, optimizers, ROOT)}
ALL = ("quality", "latency", "overhead")


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def _csv(kind):
    return lambda s: [kind(x) for x in s.split(",") if x]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--suite", choices=[*SUITES, "all"], default="all")
    p.add_argument(
        "--optimizers",
        type=_csv(str),
        default=["dspy", "dspy_gepa"],
        help=f"comma-separated, from {', '.join(OPTIMIZERS)}; unavailable ones are skipped with a note",
    )
    p.add_argument("--tasks", type=_csv(str), default=list(TASK_NAMES))
    p.add_argument("--data-seed", type=int, default=0, help="seed of the task instances (data); fixed across runs")
    p.add_argument("--threads", type=int, default=16, help="num_threads given to every optimizer")
    p.add_argument("--seeds", type=int, default=5, help="quality: optimizer seeds 0..N-1 per task and budget")
    p.add_argument("--budgets", type=_csv(BudgetSpec.parse), default=[BudgetSpec.parse(b) for b in
                                                                       ("60:10", "100", "300", "600")],
                   help="quality: max_metric_calls values; B:V runs budget B with a valset of V examples")
    p.add_argument("--latency-seeds", type=int, default=3)
    p.add_argument("--latency-repeats", type=int, default=1, help="latency: rounds over every world and seed")
    p.add_argument("--latency-budget", type=int, default=300)
    p.add_argument("--task-latency", type=float, default=0.05, help="seconds per task-LM call")
    p.add_argument("--reflection-latency", type=float, default=0.2, help="seconds per reflection-LM call")
    p.add_argument("--overhead-budget", type=int, default=3000)
    p.add_argument("--overhead-val", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3,
                   help="overhead, scaling: runs per optimizer and setting (median reported)")
    p.add_argument("--scaling-runs", type=_csv(str), default=["100:1000", "100:10000", "100:30000", "1000:30000",
                                                              "5000:30000"],
                   help="scaling: valset:budget pairs; resume and report are measured at the largest budget of the "
                        "smallest valset")
    p.add_argument("--bigval", type=int, default=10000, help="scaling: valset size of the per-rollout cost check "
                                                             "(0 skips it)")
    p.add_argument("--largeval", default="5000:10000", help="scaling: valset:budget of the large-valset check "
                                                           "('' skips it)")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument("--readme", type=Path, default=README)
    p.add_argument("--no-readme", action="store_true", help="do not rewrite the README section")
    p.add_argument("--report-only", action="store_true", help="only regenerate the README section from results")
    p.add_argument("--overhead-child", help=argparse.SUPPRESS)
    p.add_argument("--scaling-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    unknown = [t for t in args.tasks if t not in TASK_NAMES]
    if unknown:
        p.error(f"unknown task(s) {unknown}; known: {', '.join(TASK_NAMES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.overhead_child:
        print(json.dumps(_overhead_child(json.loads(args.overhead_child))))
        return 0
    if args.scaling_child:
        print(json.dumps(scaling.child_main(json.loads(args.scaling_child))))
        return 0
    quiet()
    if not args.report_only:
        optimizers = []
        for name in args.optimizers:
            ok, why = optimizer_available(name)
            if ok:
                optimizers.append(name)
            else:
                log(f"note: skipping optimizer {name!r}: {why}")
        if not optimizers:
            log("no optimizer available")
            return 2
        suites = list(ALL) if args.suite == "all" else [args.suite]
        for suite in suites:
            t0 = time.perf_counter()
            load_before = load_average()
            records = SUITES[suite](args, optimizers)
            settings = {
                k: (str(v) if isinstance(v, Path) else v)
                for k, v in vars(args).items()
                if k not in ("overhead_child", "scaling_child", "report_only", "no_readme")
            }
            settings["load_average_before"] = load_before
            settings["budgets"] = [str(b) for b in args.budgets]
            settings["load_average_after"] = load_average()
            settings["command"] = " ".join(["python -m benchmarks.compare", *(argv if argv is not None else sys.argv[1:])])
            settings["tasks_info"] = _tasks_info(args.tasks, args.data_seed)
            if suite == "overhead":
                settings["tasks_info_overhead"] = _tasks_info(args.tasks, args.data_seed, args.overhead_val)
            path = save_results(suite, records, settings, args.results_dir)
            log(f"{suite}: {len(records)} runs in {time.perf_counter() - t0:.0f}s -> {path}")
    if not args.no_readme:
        report.write_readme(args.readme, report.render(args.results_dir, plots=True))
        log(f"wrote {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
