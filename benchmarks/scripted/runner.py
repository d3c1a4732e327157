"""Run one optimizer on one scripted task and measure it (shared by every suite of ``benchmarks.compare``)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib
import importlib.metadata
import logging
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import dspy

from benchmarks.scripted import FORWARD_CALLS, TASKS, Task
from benchmarks.scripted.worlds import CallCounter


def _dspy_gepa_optimizer(**overrides: Any) -> Callable[..., Any]:
    def make(**kw: Any) -> Any:
        import dspy_gepa

        return dspy_gepa.GEPA(**kw, **overrides)

    return make


#: Optimizers compared side by side. Every factory gets the same keywords (see ``optimizer_kwargs``).
OPTIMIZERS: dict[str, Callable[..., Any]] = {
    "dspy": lambda **kw: dspy.GEPA(**kw),
    "dspy_nomerge": lambda **kw: dspy.GEPA(use_merge=False, **kw),  # ablation: shows where merge matters
    "dspy_gepa": _dspy_gepa_optimizer(),
    "dspy_gepa_paper": _dspy_gepa_optimizer(max_concurrent_proposals=1, val_evaluation_policy="full"),
}


def optimizer_available(name: str) -> tuple[bool, str]:
    """Whether ``OPTIMIZERS[name]`` can run here, and why not."""
    if name not in OPTIMIZERS:
        return False, f"unknown optimizer {name!r} (known: {', '.join(OPTIMIZERS)})"
    if name.startswith("dspy_gepa"):
        try:
            mod = importlib.import_module("dspy_gepa")
        except ImportError as e:  # pragma: no cover - depends on the checkout
            return False, f"dspy_gepa is not importable ({e})"
        if not hasattr(mod, "GEPA"):
            return False, "dspy_gepa has no GEPA yet (engine not merged into this checkout)"
    return True, ""


def versions() -> dict[str, str | None]:
    def version(dist: str, module: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            try:
                return getattr(importlib.import_module(module), "__version__", None)
            except ImportError:
                return None

    out = {"dspy": version("dspy", "dspy"), "gepa": version("gepa", "gepa")}
    try:  # the checkout's own package, which may differ from the installed distribution
        out["dspy_gepa"] = importlib.import_module("dspy_gepa").__version__
    except (ImportError, AttributeError):
        out["dspy_gepa"] = None
    out["python"] = platform.python_version()
    return out


def environment() -> dict[str, Any]:
    return {
        "versions": versions(),
        "cpu_count": os.cpu_count(),
        "timestamp": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(who).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def current_rss_mb() -> float | None:
    """Current resident set size in MiB (Linux ``/proc``; None elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def quiet() -> None:
    """Silence progress bars and per-iteration logs of the optimizers."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    for name in ("dspy", "gepa", "dspy_gepa", "LiteLLM", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)


class CountingMetric:
    """Wraps a metric to count rollouts (calls without ``pred_name``) apart from feedback-only calls."""

    def __init__(self, metric: Callable) -> None:
        self.metric = metric
        self.rollouts = CallCounter()
        self.feedback_calls = CallCounter()

    def __call__(self, gold, pred, trace=None, pred_name=None, pred_trace=None):
        (self.feedback_calls if pred_name is not None else self.rollouts).incr()
        return self.metric(gold, pred, trace, pred_name, pred_trace)


def make_task(name: str, data_seed: int, n_val: int | None = None) -> Task:
    kwargs = {} if n_val is None else {"n_val": n_val}
    return TASKS[name](data_seed, **kwargs)


def _detail(results: Any, attr: str) -> Any:
    return getattr(results, attr, None) if results is not None else None


def run_one(
    task: Task,
    optimizer: str,
    *,
    seed: int,
    budget: int,
    num_threads: int,
    task_latency: float = 0.0,
    reflection_latency: float = 0.0,
    score_test: bool = True,
    silent: bool = True,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compile ``task``'s seed program with ``optimizer`` (given ``options`` besides the common keywords)
    and return one result record."""
    task_lm = task.task_lm(latency=task_latency)
    policy = task.reflection_policy()
    reflection_lm = task.reflection_lm(latency=reflection_latency, policy=policy)
    metric = CountingMetric(task.metric)
    opt = OPTIMIZERS[optimizer](
        metric=metric,
        max_metric_calls=budget,
        reflection_lm=reflection_lm,
        num_threads=num_threads,
        seed=seed,
        track_stats=True,
        **(options or {}),
    )
    student = task.make_program()
    FORWARD_CALLS.reset()
    with contextlib.ExitStack() as stack:
        if silent:  # progress bars of the optimizers and of dspy.Evaluate go to stdout/stderr
            sink = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115
            stack.enter_context(contextlib.redirect_stdout(sink))
            stack.enter_context(contextlib.redirect_stderr(sink))
        t0 = time.perf_counter()
        with dspy.context(lm=task_lm):
            compiled = opt.compile(student, trainset=task.trainset, valset=task.valset)
        wall = time.perf_counter() - t0
    forwards = FORWARD_CALLS.value
    results = getattr(compiled, "detailed_results", None)
    val_scores = _detail(results, "val_aggregate_scores")
    best_idx = _detail(results, "best_idx")
    task_calls = len(task_lm.engine.calls)
    rollouts = metric.rollouts.value
    # Ideal bound: every task-LM call of the run packed perfectly onto the threads (reflection ignored).
    ideal = task_calls * task_latency / num_threads if task_latency else None
    ideal_budget = budget * task.lm_calls_per_rollout * task_latency / num_threads if task_latency else None
    record: dict[str, Any] = {
        "task": task.name,
        "optimizer": optimizer,
        "seed": seed,
        "data_seed": task.info.get("data_seed"),
        "budget": budget,
        "num_threads": num_threads,
        "n_train": len(task.trainset),
        "n_val": len(task.valset),
        "n_test": len(task.testset),
        "task_latency_s": task_latency,
        "reflection_latency_s": reflection_latency,
        "test_score": task.score(compiled, task.testset) if score_test else None,
        "val_score": val_scores[best_idx] if val_scores else None,
        "metric_calls_reported": _detail(results, "total_metric_calls"),
        "metric_calls_counted": rollouts,
        "forward_calls_counted": forwards,
        "feedback_metric_calls": metric.feedback_calls.value,
        "over_budget": max(rollouts, _detail(results, "total_metric_calls") or 0) > budget,
        "task_lm_calls": task_calls,
        "reflection_lm_calls": len(reflection_lm.engine.calls),
        "num_candidates": len(val_scores) if val_scores else None,
        # dspy_gepa's staged policy lists candidates it did not validate in full apart from ``candidates``
        "num_screened_candidates": len(_detail(results, "screened_candidates") or []),
        "num_full_val_evals": _detail(results, "num_full_val_evals"),
        "proposals_added_rules": sum(p["added"] for p in policy.proposals),
        "wall_time_s": round(wall, 4),
        "ideal_time_s": round(ideal, 4) if ideal else None,
        "ideal_time_at_budget_s": round(ideal_budget, 4) if ideal_budget else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_rss_scope": "process so far (runs share the process)",
        "best_instructions": {n: p.signature.instructions for n, p in compiled.named_predictors()},
    }
    record.update(environment())
    return record
