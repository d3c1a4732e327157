"""Run one optimizer on one scripted task and measure it (shared by every suite of ``benchmarks.compare``).

Besides the end result, a run records its *trajectory*: each time a candidate's validation scores become known,
the wall-clock and metric calls so far. The test score of the candidate the run ranks first at each point (the
"incumbent": the highest mean over the validation examples every candidate so far was scored on) gives the
curves of test score against metric calls and wall-clock; the last point is the returned program.
``dspy.GEPA``'s points come from a gepa callback (``on_valset_evaluated``), ours from the engine's events.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib
import importlib.metadata
import logging
import os
import platform
import re
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dspy

from benchmarks.scripted import FORWARD_CALLS, TASKS, Task
from benchmarks.scripted.lms import latency_of
from benchmarks.scripted.worlds import CallCounter


def _dspy_gepa_optimizer(**overrides: Any) -> Callable[..., Any]:
    def make(*, trajectory: Trajectory | None = None, **kw: Any) -> Any:
        import dspy_gepa

        return dspy_gepa.GEPA(**kw, **overrides)

    return make


def _dspy_optimizer(sampling: tuple[int, int] | None = None, **overrides: Any) -> Callable[..., Any]:
    """``dspy.GEPA``, with gepa's ``PxNSampling(p, n)`` when ``sampling`` is given (p parents x n minibatches
    proposed per iteration, evaluated concurrently within ``num_threads``)."""

    def make(*, trajectory: Trajectory | None = None, **kw: Any) -> Any:
        gepa_kwargs: dict[str, Any] = {}
        if sampling is not None:
            from gepa.strategies.proposal_sampling import PxNSampling

            gepa_kwargs["sampling_strategy"] = PxNSampling(*sampling)
        if trajectory is not None:
            gepa_kwargs["callbacks"] = [_GepaTrajectory(trajectory)]
        return dspy.GEPA(**kw, **overrides, gepa_kwargs=gepa_kwargs or None)

    return make


#: The PxN setting of ``dspy.GEPA`` that reached dspy.GEPA's quality fastest on the tuning worlds (see
#: benchmarks/README.md, "dspy.GEPA with PxN"); ``dspy_pxn_PxN`` runs any other.
BEST_PXN = (1, 2)

#: Optimizers compared side by side. Every factory gets the same keywords (see ``run_one``).
OPTIMIZERS: dict[str, Callable[..., Any]] = {
    "dspy": _dspy_optimizer(),
    "dspy_nomerge": _dspy_optimizer(use_merge=False),  # ablation: shows where merge matters
    "dspy_pxn": _dspy_optimizer(BEST_PXN),
    "dspy_gepa": _dspy_gepa_optimizer(),
    "dspy_gepa_paper": _dspy_gepa_optimizer(max_concurrent_proposals=1, val_evaluation_policy="full"),
}
_PXN = re.compile(r"dspy_pxn_(\d+)x(\d+)")
_ABLATION = re.compile(r"(dspy_gepa\w*)\[(.*)\]")


def _ablation(base: str, settings: str) -> Callable[..., Any]:
    """``dspy_gepa[field=value;...]``: ``base`` with these ``EngineConfig`` fields overridden (ablations)."""
    import ast

    overrides = {k.strip(): ast.literal_eval(v.strip()) for k, v in (kv.split("=", 1) for kv in settings.split(";")
                                                                      if kv.strip())}
    make_base = OPTIMIZERS[base]

    def make(**kw: Any) -> Any:
        import dspy_gepa.optimizer as opt_module

        optimizer = make_base(**kw)
        compile_ = optimizer.compile

        def compile(*args: Any, **kwargs: Any) -> Any:
            original = opt_module.EngineConfig
            opt_module.EngineConfig = lambda **c: original(**{**c, **overrides})  # type: ignore[misc]
            try:
                return compile_(*args, **kwargs)
            finally:
                opt_module.EngineConfig = original

        optimizer.compile = compile
        return optimizer

    return make


def optimizer_factory(name: str) -> Callable[..., Any]:
    """The factory of a named optimizer; ``dspy_pxn_<p>x<n>`` is ``dspy.GEPA`` with ``PxNSampling(p, n)``,
    ``dspy_gepa[field=value;...]`` ours with engine settings overridden."""
    if name in OPTIMIZERS:
        return OPTIMIZERS[name]
    m = _PXN.fullmatch(name)
    if m:
        return _dspy_optimizer((int(m.group(1)), int(m.group(2))))
    m = _ABLATION.fullmatch(name)
    if m and m.group(1) in OPTIMIZERS:
        return _ablation(m.group(1), m.group(2))
    raise KeyError(name)


def optimizer_available(name: str) -> tuple[bool, str]:
    """Whether the optimizer ``name`` can run here, and why not."""
    ablation = _ABLATION.fullmatch(name)
    if name not in OPTIMIZERS and not _PXN.fullmatch(name) and not (ablation and ablation.group(1) in OPTIMIZERS):
        return False, (f"unknown optimizer {name!r} (known: {', '.join(OPTIMIZERS)}, dspy_pxn_<p>x<n>, "
                       "dspy_gepa[field=value;...])")
    if name.startswith("dspy_pxn"):
        try:
            importlib.import_module("gepa.strategies.proposal_sampling")
        except ImportError as e:  # pragma: no cover - depends on the installed gepa
            return False, f"gepa has no PxNSampling ({e})"
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


class Trajectory:
    """Points ``(seconds since start, metric calls so far, candidate, its validation scores)``, appended from any
    thread when a candidate's validation scores become known (scores of a candidate seen again replace its
    earlier ones, e.g. a screened candidate validated in full)."""

    def __init__(self, calls: CallCounter) -> None:
        self.calls = calls
        self.t0 = time.perf_counter()
        self.points: list[tuple[float, int, dict[str, str], dict[int, float]]] = []
        self._lock = threading.Lock()

    def add(self, candidate: dict[str, str], scores: dict[Any, float]) -> None:
        with self._lock:
            self.points.append((time.perf_counter() - self.t0, self.calls.value, dict(candidate),
                                {int(k): float(v) for k, v in scores.items()}))

    def incumbents(self) -> list[tuple[float, int, dict[str, str]]]:
        """After each point, the candidate ranked first: highest mean over the validation ids every candidate so
        far was scored on (the earliest wins ties)."""
        pool: dict[tuple, dict[int, float]] = {}
        out = []
        for t, calls, candidate, scores in self.points:
            key = tuple(sorted(candidate.items()))
            pool[key] = {**pool.get(key, {}), **scores}
            common = set.intersection(*(set(s) for s in pool.values()))
            if not common:
                continue
            best = max(pool, key=lambda k: sum(pool[k][v] for v in common))
            out.append((t, calls, dict(best)))
        return out


class _GepaTrajectory:
    """A gepa callback (``gepa_kwargs={"callbacks": [...]}``) feeding a :class:`Trajectory`."""

    def __init__(self, trajectory: Trajectory) -> None:
        self.trajectory = trajectory

    def on_valset_evaluated(self, event: dict[str, Any]) -> None:
        self.trajectory.add(event["candidate"], event["scores_by_val_id"])


@contextlib.contextmanager
def _engine_trajectory(trajectory: Trajectory) -> Iterator[None]:
    """Subscribe ``trajectory`` to the events of the engines ``dspy_gepa.GEPA`` starts inside the block."""
    import dspy_gepa.optimizer as opt_module
    from dspy_gepa.engine import events as ev

    original = opt_module.Engine

    class Traced(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            added: dict[int, dict[str, str]] = {}

            def record(event: Any) -> None:
                if isinstance(event, ev.CandidateAdded) and not event.replayed:
                    added[event.idx] = dict(event.candidate)
                    trajectory.add(event.candidate, event.val_scores)
                elif isinstance(event, ev.CandidateValidated) and not event.replayed:
                    trajectory.add(added[event.idx], event.val_scores)

            self.bus.subscribe(record)

    opt_module.Engine = Traced
    try:
        yield
    finally:
        opt_module.Engine = original


@dataclass(frozen=True)
class BudgetSpec:
    """A quality-suite budget: ``max_metric_calls``, and the valset size the world is generated with (None: its
    default). Written ``B`` or ``B:V``."""

    budget: int
    n_val: int | None = None

    @classmethod
    def parse(cls, text: str) -> BudgetSpec:
        budget, _, n_val = str(text).partition(":")
        return cls(int(budget), int(n_val) if n_val else None)

    def __str__(self) -> str:
        return f"{self.budget}" if self.n_val is None else f"{self.budget}:{self.n_val}"


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
    """Compile ``task``'s seed program with ``optimizer`` and (given ``options`` besides the common
    keywords) and return one result record (with its curve).

    With latencies, a world that has its own latency profile uses it instead of the constants."""
    if task_latency or reflection_latency:
        task_latency_fn, reflection_latency_fn = task.latencies(task_latency, reflection_latency)
    else:
        task_latency_fn, reflection_latency_fn = 0.0, 0.0
    task_lm = task.task_lm(latency=task_latency_fn)
    policy = task.reflection_policy()
    reflection_lm = task.reflection_lm(latency=reflection_latency_fn, policy=policy)
    metric = CountingMetric(task.metric)
    trajectory = Trajectory(metric.rollouts)
    opt = optimizer_factory(optimizer)(
        metric=metric,
        max_metric_calls=budget,
        reflection_lm=reflection_lm,
        num_threads=num_threads,
        seed=seed,
        track_stats=True,
        trajectory=trajectory,
        **(options or {}),
    )
    student = task.make_program()
    FORWARD_CALLS.reset()
    with contextlib.ExitStack() as stack:
        if silent:  # progress bars of the optimizers and of dspy.Evaluate go to stdout/stderr
            sink = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115
            stack.enter_context(contextlib.redirect_stdout(sink))
            stack.enter_context(contextlib.redirect_stderr(sink))
        if optimizer.startswith("dspy_gepa"):
            stack.enter_context(_engine_trajectory(trajectory))
        trajectory.t0 = t0 = time.perf_counter()
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
    lm_seconds = sum(latency_of(task_latency_fn, call) for call in task_lm.engine.calls)
    ideal = lm_seconds / num_threads if lm_seconds else None
    instructions = {n: p.signature.instructions for n, p in compiled.named_predictors()}
    test_score = task.test_score(instructions) if score_test else None
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
        "task_latency_s": task_latency if task.latency_profile is None or not task_latency else "profile",
        "reflection_latency_s": reflection_latency if task.latency_profile is None or not task_latency
        else "profile",
        "test_score": test_score,
        "val_score": val_scores[best_idx] if val_scores else None,
        "metric_calls_reported": _detail(results, "total_metric_calls"),
        "metric_calls_counted": rollouts,
        "forward_calls_counted": forwards,
        "feedback_metric_calls": metric.feedback_calls.value,
        "over_budget": max(rollouts, _detail(results, "total_metric_calls") or 0) > budget,
        "task_lm_calls": task_calls,
        "task_lm_seconds": round(lm_seconds, 4),
        "reflection_lm_calls": len(reflection_lm.engine.calls),
        "num_candidates": len(val_scores) if val_scores else None,
        # dspy_gepa's staged policy lists candidates it did not validate in full apart from ``candidates``
        "num_screened_candidates": len(_detail(results, "screened_candidates") or []),
        "num_full_val_evals": _detail(results, "num_full_val_evals"),
        "proposals_added_rules": sum(p["added"] for p in policy.proposals),
        "wall_time_s": round(wall, 4),
        "ideal_time_s": round(ideal, 4) if ideal else None,
        "curve": _curve(task, trajectory, wall, rollouts, test_score) if score_test else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_rss_scope": "process so far (runs share the process)",
        "best_instructions": instructions,
    }
    record.update(environment())
    return record


def _curve(task: Task, trajectory: Trajectory, wall: float, calls: int, final_test: float) -> list[list[float]]:
    """``[seconds, metric calls, test score]`` each time the incumbent changes, then the returned program's."""
    points: list[list[float]] = []
    for t, used, candidate in trajectory.incumbents():
        test = round(task.test_score(candidate), 6)
        if not points or points[-1][2] != test:
            points.append([round(t, 4), used, test])
    points.append([round(wall, 4), calls, round(final_test, 6)])
    return points
