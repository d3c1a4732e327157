"""Run one of the GEPA paper's tasks with an optimizer and report baseline and optimized *test* scores.

    python -m benchmarks.run --task hotpotqa --optimizer dspy_gepa --lm openai/gpt-4.1-mini \\
        --reflection-lm openai/gpt-5 --budget 2000 --seeds 0 1 2

Optimizers: ``dspy`` (``dspy.GEPA``), ``dspy_gepa`` (``dspy_gepa.GEPA``, the same keyword arguments),
``dspy_gepa_paper`` (``dspy_gepa.GEPA`` with the paper's settings: ``max_concurrent_proposals=1``,
``val_evaluation_policy="full"``) and ``mipro`` (``dspy.MIPROv2``). ``--budget`` is GEPA's ``max_metric_calls``
(for MIPROv2 it sets the number of trials, so its rollouts only approximate the budget: see the JSON).
``--offline`` replaces every LM with a scripted one (no network; the scores mean nothing). Results are printed
and saved as JSON (default ``benchmarks/paper/results/<task>-<optimizer>-<timestamp>.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dspy

from benchmarks.paper.tasks import TASKS, get_task

OPTIMIZERS = ("dspy_gepa", "dspy_gepa_paper", "dspy", "mipro")
RESULTS_DIR = Path(__file__).resolve().parent / "results"

__all__ = ["OPTIMIZERS", "build_optimizer", "main", "parse_args", "run"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--optimizer", required=True, choices=OPTIMIZERS)
    p.add_argument("--lm", help="task LM, a litellm model string (e.g. openai/gpt-4.1-mini)")
    p.add_argument("--reflection-lm", help="reflection / prompt-proposal LM (default: --lm)")
    p.add_argument("--judge-lm", help="PUPA: the LM judge (default: --lm)")
    p.add_argument("--untrusted-lm", help="PUPA: the untrusted external LM (default: --lm)")
    p.add_argument("--budget", type=int, required=True, help="rollout budget: GEPA's max_metric_calls")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="optimizer seeds, one run each")
    p.add_argument("--offline", action="store_true", help="use scripted LMs (no network; for smoke tests)")
    p.add_argument("--online-data", action="store_true", help="load the full datasets from Hugging Face")
    p.add_argument(
        "--corpus",
        choices=("offline", "wiki2017"),
        help="HotpotQA/HoVer retrieval corpus: the shipped paragraphs, or the paper's Wikipedia 2017 abstracts "
        "(default: offline, or wiki2017 with --online-data)",
    )
    p.add_argument("--corpus-path", help="local wiki.abstracts.2017.tar.gz or .jsonl (default: download from the Hub)")
    p.add_argument("--data-seed", type=int, default=0, help="split seed; 0 reproduces the paper's procedure")
    p.add_argument("--train-size", type=int)
    p.add_argument("--val-size", type=int)
    p.add_argument("--test-size", type=int)
    p.add_argument("--num-threads", type=int, default=4)
    p.add_argument("--temperature", type=float, help="task LM temperature (default: the provider's)")
    p.add_argument("--max-tokens", type=int, help="task LM max_tokens (default: the provider's)")
    p.add_argument("--log-dir", help="optimizer log directory (GEPA checkpoints / MIPROv2 logs)")
    p.add_argument("--output", help="JSON result path (default: benchmarks/paper/results/<task>-<optimizer>-<time>.json)")
    args = p.parse_args(argv)
    if args.budget <= 0:
        p.error("--budget must be positive")
    if not args.offline and not args.lm:
        p.error("--lm is required unless --offline is given")
    sizes = (args.train_size, args.val_size, args.test_size)
    if any(s is not None for s in sizes) and not all(s is not None for s in sizes):
        p.error("give all of --train-size, --val-size and --test-size, or none")
    if any(s is not None and s <= 0 for s in sizes):
        p.error("split sizes must be positive")
    return args


# --- LMs --------------------------------------------------------------------------------------------------------


def build_lms(args: argparse.Namespace) -> dict[str, dspy.LM]:
    """``{"task", "reflection", "judge", "untrusted"}`` LMs. Judge and untrusted LMs naming the task model (or
    none) are the task LM itself; the reflection LM is the task LM unless ``--reflection-lm`` is given."""
    if args.offline:
        from benchmarks.paper.offline_lms import scripted_reflection_lm, scripted_task_lm  # noqa: PLC0415

        task = scripted_task_lm()
        return {"task": task, "reflection": scripted_reflection_lm(), "judge": task, "untrusted": task}
    task_kwargs: dict[str, Any] = {}
    if args.temperature is not None:
        task_kwargs["temperature"] = args.temperature
    if args.max_tokens is not None:
        task_kwargs["max_tokens"] = args.max_tokens
    task = dspy.LM(args.lm, **task_kwargs)
    cache: dict[str, dspy.LM] = {args.lm: task}

    def lm_for(model: str | None, **kwargs) -> dspy.LM:
        if model is None or model in cache:
            return cache[model or args.lm]
        cache[model] = dspy.LM(model, **kwargs)
        return cache[model]

    # GEPA's reflection LM writes long rewrites: its own LM with the settings DSPy's GEPA docs suggest.
    reflection = dspy.LM(args.reflection_lm, temperature=1.0, max_tokens=32000) if args.reflection_lm else task
    return {
        "task": task,
        "reflection": reflection,
        "judge": lm_for(args.judge_lm),
        "untrusted": lm_for(args.untrusted_lm),
    }


def _model_name(lm: dspy.LM) -> str:
    return getattr(lm, "model", str(lm))


class UsageMeter:
    """Cost and token totals from the LMs' ``history`` (entries whose ``cost`` is None count as unknown)."""

    def __init__(self, lms: list[dspy.LM]) -> None:
        self.lms = list({id(lm): lm for lm in lms}.values())
        self.marks = [len(lm.history) for lm in self.lms]

    def since_mark(self) -> dict[str, Any]:
        calls, cost, known, prompt_tokens, completion_tokens = 0, 0.0, 0, 0, 0
        for lm, mark in zip(self.lms, self.marks, strict=True):
            for entry in lm.history[mark:]:
                calls += 1
                if entry.get("cost") is not None:
                    cost += float(entry["cost"])
                    known += 1
                usage = entry.get("usage") or {}
                prompt_tokens += int(usage.get("prompt_tokens") or 0)
                completion_tokens += int(usage.get("completion_tokens") or 0)
        return {
            "lm_calls": calls,
            "cost_usd": round(cost, 6) if known else None,
            "cost_complete": bool(calls) and known == calls,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        }


# --- optimizers -------------------------------------------------------------------------------------------------


class CountingMetric:
    """Wraps a metric and counts its calls (thread-safe enough for a counter under the GIL)."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def _dspy_gepa_class():
    try:
        from dspy_gepa import GEPA  # noqa: PLC0415
    except ImportError as exc:
        raise SystemExit(
            "dspy_gepa.GEPA is not available in this checkout (ImportError: "
            f"{exc}); use --optimizer dspy to run dspy.GEPA instead"
        ) from exc
    return GEPA


def build_optimizer(
    name: str,
    *,
    metric,
    feedback_metric,
    budget: int,
    lms: dict,
    seed: int,
    num_threads: int,
    log_dir: str | None,
    val_size: int,
):
    """The optimizer object and the extra ``compile`` keyword arguments it needs."""
    if name in ("dspy", "dspy_gepa", "dspy_gepa_paper"):
        kwargs = dict(
            metric=feedback_metric,
            max_metric_calls=budget,
            reflection_lm=lms["reflection"],
            seed=seed,
            track_stats=True,
            num_threads=num_threads,
            log_dir=log_dir,
        )
        if name == "dspy":
            return dspy.GEPA(**kwargs), {}
        gepa_cls = _dspy_gepa_class()
        if name == "dspy_gepa_paper":
            kwargs.update(max_concurrent_proposals=1, val_evaluation_policy="full")
        return gepa_cls(**kwargs), {}
    if name == "mipro":
        minibatch = max(1, min(35, val_size))
        trials = max(1, budget // minibatch)
        optimizer = dspy.MIPROv2(
            metric=metric,
            prompt_model=lms["reflection"],
            task_model=lms["task"],
            auto=None,
            num_candidates=max(2, min(10, trials)),
            seed=seed,
            num_threads=num_threads,
            log_dir=log_dir,
        )
        return optimizer, dict(num_trials=trials, minibatch_size=minibatch, requires_permission_to_run=False)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


# --- running ----------------------------------------------------------------------------------------------------


def build_retriever(args: argparse.Namespace):
    """``None`` (the offline index over the shipped paragraphs) or a BM25 index over the Wikipedia 2017 abstracts."""
    corpus = args.corpus or ("wiki2017" if args.online_data else "offline")
    if corpus == "offline":
        if args.online_data:
            raise SystemExit("--online-data questions need --corpus wiki2017: the offline corpus lacks their documents")
        return None
    from benchmarks.paper.retrieval import BM25Retriever, wiki2017_corpus  # noqa: PLC0415

    return BM25Retriever(wiki2017_corpus(args.corpus_path))


def _task_parts(task, lms: dict, retriever=None):
    if task.NAME == "pupa":
        return (
            task.make_program(untrusted_lm=lms["untrusted"]),
            task.make_metric(judge_lm=lms["judge"]),
            task.make_feedback_metric(judge_lm=lms["judge"]),
        )
    if task.NAME in ("hotpotqa", "hover"):
        return task.make_program(retriever=retriever), task.metric, task.feedback_metric
    return task.make_program(), task.metric, task.feedback_metric


def _evaluate(program, devset, metric, num_threads: int) -> float:
    evaluate = dspy.Evaluate(devset=devset, metric=metric, num_threads=num_threads, display_progress=False)
    return round(float(evaluate(program).score), 2)


def _instructions(program: dspy.Module) -> dict[str, str]:
    return {name: pred.signature.instructions for name, pred in program.named_predictors()}


def _versions() -> dict[str, str | None]:
    try:
        import dspy_gepa  # noqa: PLC0415

        ours = getattr(dspy_gepa, "__version__", None)
    except ImportError:  # pragma: no cover
        ours = None
    return {"python": platform.python_version(), "dspy": dspy.__version__, "dspy_gepa": ours}


def run(args: argparse.Namespace) -> dict[str, Any]:
    task = get_task(args.task)
    sizes = None if args.train_size is None else (args.train_size, args.val_size, args.test_size)
    train, val, test = task.load_splits(offline=not args.online_data, seed=args.data_seed, sizes=sizes)
    lms = build_lms(args)
    retriever = build_retriever(args) if args.task in ("hotpotqa", "hover") else None
    dspy.configure(max_history_size=sys.maxsize)  # cost accounting reads every history entry
    record: dict[str, Any] = {
        "task": args.task,
        "optimizer": args.optimizer,
        "lm": _model_name(lms["task"]),
        "reflection_lm": _model_name(lms["reflection"]),
        "judge_lm": _model_name(lms["judge"]) if args.task == "pupa" else None,
        "untrusted_lm": _model_name(lms["untrusted"]) if args.task == "pupa" else None,
        "offline_lms": bool(args.offline),
        "data": "online" if args.online_data else "offline",
        "data_seed": args.data_seed,
        "corpus": (args.corpus or ("wiki2017" if args.online_data else "offline"))
        if args.task in ("hotpotqa", "hover")
        else None,
        "sizes": {"train": len(train), "val": len(val), "test": len(test)},
        "budget": args.budget,
        "seeds": list(args.seeds),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "runs": [],
    }
    for seed in args.seeds:
        program, metric, feedback_metric = _task_parts(task, lms, retriever)
        meter = UsageMeter(list(lms.values()))
        started = time.perf_counter()
        with dspy.context(lm=lms["task"]):
            baseline = _evaluate(program, test, metric, args.num_threads)
            counted_fb, counted = CountingMetric(feedback_metric), CountingMetric(metric)
            optimizer, compile_kwargs = build_optimizer(
                args.optimizer,
                metric=counted,
                feedback_metric=counted_fb,
                budget=args.budget,
                lms=lms,
                seed=seed,
                num_threads=args.num_threads,
                log_dir=args.log_dir,
                val_size=len(val),
            )
            optimized = optimizer.compile(program, trainset=train, valset=val, **compile_kwargs)
            optimized_score = _evaluate(optimized, test, metric, args.num_threads)
        details = getattr(optimized, "detailed_results", None)
        rollouts = getattr(details, "total_metric_calls", None)
        run_record = {
            "seed": seed,
            "baseline_test_score": baseline,
            "optimized_test_score": optimized_score,
            "rollouts": rollouts if rollouts is not None else counted_fb.calls + counted.calls,
            "rollouts_source": "detailed_results.total_metric_calls"
            if rollouts is not None
            else "counted metric calls",
            "metric_calls_counted": counted_fb.calls + counted.calls,
            "wall_time_s": round(time.perf_counter() - started, 2),
            **meter.since_mark(),
            "optimized_instructions": _instructions(optimized),
        }
        record["runs"].append(run_record)
        print(
            f"[{args.task} / {args.optimizer} / seed {seed}] test {baseline:.2f} -> {optimized_score:.2f}  "
            f"rollouts {run_record['rollouts']}  cost {run_record['cost_usd']}  {run_record['wall_time_s']} s",
            flush=True,
        )
    runs = record["runs"]
    record["mean_baseline_test_score"] = round(sum(r["baseline_test_score"] for r in runs) / len(runs), 2)
    record["mean_optimized_test_score"] = round(sum(r["optimized_test_score"] for r in runs) / len(runs), 2)
    return record


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    record = run(args)
    if args.output:
        out = Path(args.output)
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS_DIR / f"{args.task}-{args.optimizer}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"{args.task} / {args.optimizer}: mean test score {record['mean_baseline_test_score']:.2f} -> "
        f"{record['mean_optimized_test_score']:.2f} over seeds {record['seeds']}; saved {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
