"""The demo's run: one complete GEPA optimization of the built-in task, offline by default.

With no ``lm``, the demo starts a local OpenAI-compatible server (:class:`~dspy_gepa.demo.local_lm.LocalLMServer`,
SmolLM2-135M-Instruct on llama-cpp-python) and reaches it through ``dspy.LM`` like any provider. It then
scores the built-in task's program (:mod:`dspy_gepa.demo.task`) on the held-out split, optimizes its
instruction with :class:`dspy_gepa.GEPA`, scores the result on the same split, and reports both scores,
the evolved instruction, metric calls, tokens and wall-clock.

Which LMs run where:

* neither ``lm`` nor ``reflection_lm``: the local model does both (no API key, no network);
* ``lm`` only: that model does both; no local server;
* ``reflection_lm`` only: the local model runs the task and the given model reflects, which shows what
  a capable reflection LM does for a tiny task model;
* both: no local server.

Calls to the local server use :class:`~dspy_gepa.demo.compact_adapter.CompactJSONAdapter` (short prompts,
grammar-constrained JSON); other models use DSPy's configured adapter. DSPy's response cache is off
for the LMs the demo builds, so every run does the work it reports.

The reflection prompt (``proposer``): ``"rule"`` (:class:`dspy_gepa.RuleProposer`: the reflection LM writes one
rule from the quoted feedback, added to the instruction) is what a 135M model can do, so it is the default when
the local model reflects; ``"default"`` (:class:`dspy_gepa.InstructionProposer`: the whole instruction
rewritten) is the default for any other reflection LM. Either can be asked for, to compare them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dspy

from dspy_gepa import GEPA
from dspy_gepa.demo.compact_adapter import CompactJSONAdapter
from dspy_gepa.demo.local_lm import LocalLMServer, check_local_extra
from dspy_gepa.demo.task import build_program, load_splits, review_metric
from dspy_gepa.proposers import InstructionProposer, RuleProposer

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_BUDGET", "PROPOSERS", "DemoResult", "run_demo"]

DEFAULT_BUDGET = 100
LOCAL_TASK_MAX_TOKENS = 64
LOCAL_REFLECTION_MAX_TOKENS = 384
#: The reflection prompts the demo can use, by name.
PROPOSERS = {"rule": RuleProposer, "default": InstructionProposer}
REMOTE_NUM_THREADS = 8
LOCAL_MODEL_NOTE = " (SmolLM2-135M-Instruct on the local server)"


@dataclass
class DemoResult:
    """What one demo run measured. Scores are fractions of the held-out test split answered correctly."""

    task_lm: str
    reflection_lm: str
    proposer: str
    local_server: bool
    budget: int
    seed: int
    test_size: int
    baseline_score: float
    optimized_score: float
    baseline_instructions: dict[str, str]
    optimized_instructions: dict[str, str]
    metric_calls: int
    lm_calls: dict[str, int]
    tokens: dict[str, dict[str, int]]
    wall_clock_s: float
    optimize_s: float
    log_dir: str
    report: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format_text(self) -> str:
        """The human-readable summary the CLI prints."""
        total = {k: sum(t.get(k, 0) for t in self.tokens.values()) for k in ("prompt_tokens", "completion_tokens")}
        lines = [
            "dspy-gepa demo: review sentiment labels, instruction evolved by GEPA",
            f"  task LM:        {self.task_lm}",
            f"  reflection LM:  {self.reflection_lm} ({self.proposer} proposer)",
            f"  budget:         {self.budget} metric calls, seed {self.seed}",
            "",
            f"  held-out score: {self.baseline_score:.1%} -> {self.optimized_score:.1%} "
            f"({self.test_size} test examples; baseline -> optimized)",
            f"  rollouts:       {self.metric_calls} metric calls during optimization",
            "  LM calls:       " + ", ".join(f"{role} {n}" for role, n in self.lm_calls.items()),
            f"  tokens:         {total['prompt_tokens']} prompt + {total['completion_tokens']} completion",
            f"  wall-clock:     {self.wall_clock_s:.1f}s (optimization {self.optimize_s:.1f}s)",
            f"  log_dir:        {self.log_dir}",
        ]
        if self.report:
            lines.append(f"  report:         {self.report}")
        for name, text in self.optimized_instructions.items():
            changed = "" if text != self.baseline_instructions.get(name) else " (unchanged)"
            lines += ["", f"Evolved instruction for `{name}`{changed}:", *("  " + ln for ln in text.splitlines())]
            if changed == "":
                lines += [f"Baseline instruction for `{name}`:", f"  {self.baseline_instructions.get(name, '')}"]
        return "\n".join(lines)


def _instructions(program: dspy.Module) -> dict[str, str]:
    return {name: predictor.signature.instructions for name, predictor in program.named_predictors()}


def _lm_name(lm: Any) -> str:
    return getattr(lm, "model", None) or type(lm).__name__


def _usage(lm: Any, start: int) -> tuple[int, dict[str, int]]:
    """(calls, {prompt_tokens, completion_tokens}) over ``lm.history[start:]``."""
    entries = list(getattr(lm, "history", []))[start:]
    totals = {"prompt_tokens": 0, "completion_tokens": 0}
    for entry in entries:
        usage = entry.get("usage") or {}
        for key in totals:
            totals[key] += int(usage.get(key) or 0)
    return len(entries), totals


def _evaluate(program: dspy.Module, examples: list[dspy.Example], num_threads: int) -> float:
    """Mean metric score of ``program`` on ``examples``; a call that fails (e.g. unparsable reply) scores 0."""
    evaluate = dspy.Evaluate(
        devset=examples,
        metric=lambda gold, pred, trace=None: review_metric(gold, pred).score,
        num_threads=num_threads,
        display_progress=False,
        provide_traceback=False,
        max_errors=len(examples) + 1,
    )
    result = evaluate(program)
    scores = [score for _, _, score in result.results]
    return sum(float(s or 0.0) for s in scores) / len(examples)


class _CountingMetric:
    """Wraps the metric to count the rollouts GEPA scores (calls made without ``pred_name``)."""

    def __init__(self, metric: Callable[..., Any]):
        self.metric = metric
        self.rollouts = 0
        self._lock = threading.Lock()

    def __call__(self, gold, pred, trace=None, pred_name=None, pred_trace=None):
        if pred_name is None:
            with self._lock:
                self.rollouts += 1
        return self.metric(gold, pred, trace, pred_name, pred_trace)


@contextlib.contextmanager
def _local_server_if_needed(lm: Any, server: LocalLMServer | None) -> Iterator[LocalLMServer | None]:
    """The local server, started, when the task LM is the local model (``lm`` is None); else None."""
    if lm is not None:
        yield None
        return
    server = server or LocalLMServer()
    # The demo promises no network: keep DSPy and LiteLLM on their bundled model-price tables.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with server:
        yield server


def run_demo(
    lm: str | dspy.BaseLM | None = None,
    reflection_lm: str | dspy.BaseLM | None = None,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    log_dir: str | os.PathLike[str] | None = None,
    *,
    num_threads: int | None = None,
    optimizer_cls: Callable[..., Any] | None = None,
    server: LocalLMServer | None = None,
    lm_kwargs: dict[str, Any] | None = None,
    proposer: str | None = None,
) -> DemoResult:
    """Run the demo and return what it measured (see the module docstring for which LM runs where).

    Args:
        lm: the task LM, as a LiteLLM model string (``"openai/gpt-4.1-mini"``) or a ready ``dspy.LM``
            (e.g. :func:`dspy_gepa.testing.scripted_lm`); None: the local model.
        reflection_lm: GEPA's reflection LM, same forms; None: ``lm`` if given, else the local model.
        budget: GEPA's ``max_metric_calls``.
        seed: GEPA's seed.
        log_dir: GEPA's log directory (it resumes from a directory holding a previous run's state);
            None: a new temporary directory.
        num_threads: evaluation threads; default 1 with the local server (it answers one request at a
            time), else 8.
        optimizer_cls: the optimizer class, default :class:`dspy_gepa.GEPA`.
        server: a :class:`LocalLMServer` to use (started and stopped here) when the local model is needed.
        lm_kwargs: extra ``dspy.LM`` keyword arguments for LMs given as model strings (e.g. ``api_base``).
        proposer: the reflection prompt, a key of :data:`PROPOSERS`: ``"rule"`` or ``"default"``; None:
            ``"rule"`` when the local model reflects, else ``"default"``.

    Raises:
        LocalExtraMissingError: the local model is needed but the ``local`` extra is not installed.
        LocalServerStartError: the local server did not start.
    """
    started = time.monotonic()
    if proposer is not None and proposer not in PROPOSERS:
        raise ValueError(f"proposer must be one of {sorted(PROPOSERS)}, not {proposer!r}")
    if lm is None:
        check_local_extra()  # before anything else, so a missing extra is the first thing reported
    optimizer_cls = optimizer_cls or GEPA
    if log_dir is None:
        log_dir = tempfile.mkdtemp(prefix="dspy-gepa-demo-")
    log_dir = str(Path(log_dir))
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    extra_lm = {"cache": False, **(lm_kwargs or {})}

    with _local_server_if_needed(lm, server) as local:
        local_task = lm is None
        local_reflector = reflection_lm is None and lm is None
        if local_task:
            task = local.lm(max_tokens=LOCAL_TASK_MAX_TOKENS, cache=False)
        else:
            task = dspy.LM(lm, **extra_lm) if isinstance(lm, str) else lm
        if local_reflector:
            reflector = local.lm(max_tokens=LOCAL_REFLECTION_MAX_TOKENS, cache=False)
        elif reflection_lm is None:
            reflector = task
        elif isinstance(reflection_lm, str):
            reflector = dspy.LM(reflection_lm, **{"max_tokens": 4000, **extra_lm})
        else:
            reflector = reflection_lm
        threads = num_threads or (1 if local_task else REMOTE_NUM_THREADS)
        proposer = proposer or ("rule" if local_reflector else "default")
        # The compact adapter only for calls to the local server; a provider's LM keeps DSPy's usual adapter.
        local_lms = [m for m, is_local in ((task, local_task), (reflector, local_reflector)) if is_local]
        adapter = CompactJSONAdapter(only_for=local_lms, other=dspy.settings.adapter) if local_lms else None
        lms = {"task": task} if reflector is task else {"task": task, "reflection": reflector}
        marks = {role: len(getattr(m, "history", [])) for role, m in lms.items()}

        train, val, test = load_splits()
        program = build_program()
        baseline_instructions = _instructions(program)
        metric = _CountingMetric(review_metric)
        with dspy.context(lm=task, **({"adapter": adapter} if adapter else {})):
            logger.info("scoring the baseline program on %d held-out examples", len(test))
            baseline_score = _evaluate(program, test, threads)
            optimizer = optimizer_cls(
                metric=metric, max_metric_calls=budget, reflection_lm=reflector, num_threads=threads,
                seed=seed, log_dir=log_dir, track_stats=True, instruction_proposer=PROPOSERS[proposer](),
            )
            logger.info("optimizing with %s (budget %d metric calls)", getattr(optimizer_cls, "__name__", optimizer_cls),
                        budget)
            optimize_started = time.monotonic()
            optimized = optimizer.compile(program, trainset=train, valset=val)
            optimize_s = time.monotonic() - optimize_started
            logger.info("scoring the optimized program on %d held-out examples", len(test))
            optimized_score = _evaluate(optimized, test, threads)

        calls, tokens = {}, {}
        for role, model in lms.items():
            calls[role], tokens[role] = _usage(model, marks[role])
        details = getattr(optimized, "detailed_results", None)
        extra: dict[str, Any] = {}
        if details is not None:
            for key in ("total_metric_calls", "num_full_val_evals"):
                if getattr(details, key, None) is not None:
                    extra[f"optimizer_{key}"] = getattr(details, key)
            candidates = getattr(details, "candidates", None)
            if candidates is not None:
                extra["candidates"] = len(candidates)
        if local is not None:
            extra["server"] = {"pid": local.pid, "port": local.port, "n_threads": local.n_threads,
                               "n_ctx": local.n_ctx, "model_file": str(local.model_path)}

    result = DemoResult(
        task_lm=_lm_name(task) + (LOCAL_MODEL_NOTE if local_task else ""),
        reflection_lm=_lm_name(reflector) + (LOCAL_MODEL_NOTE if local_reflector else ""),
        proposer=proposer,
        local_server=local is not None,
        budget=budget,
        seed=seed,
        test_size=len(test),
        baseline_score=baseline_score,
        optimized_score=optimized_score,
        baseline_instructions=baseline_instructions,
        optimized_instructions=_instructions(optimized),
        metric_calls=metric.rollouts,
        lm_calls=calls,
        tokens=tokens,
        wall_clock_s=time.monotonic() - started,
        optimize_s=optimize_s,
        log_dir=log_dir,
        extra=extra,
    )
    Path(log_dir, "demo_result.json").write_text(json.dumps(result.to_dict(), indent=2))
    return result
