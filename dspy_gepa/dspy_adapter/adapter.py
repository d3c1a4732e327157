"""``DspyAdapter``: the bridge between the DSPy-free engine and a DSPy program."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from typing import Any

import dspy

from dspy_gepa._redact import lm_secrets, redact, remember_secrets, scrub_saved_program
from dspy_gepa.dspy_adapter import codec, flex
from dspy_gepa.dspy_adapter.feedback import call_metric, default_feedback, score_rollout
from dspy_gepa.dspy_adapter.reflective import (
    ReflectionLimits,
    build_record,
    format_failure_feedback,
    program_failure_feedback,
    select_entries,
)
from dspy_gepa.dspy_adapter.trace import TraceEntry, Trajectory, run_with_trace, watch_parse_failures
from dspy_gepa.engine.types import Candidate, EvaluationBatch, Rollout
from dspy_gepa.engine.usage import merge
from dspy_gepa.lms import CallRecorder, Prices, raise_if_infrastructure, record_lm_calls, watch_lms
from dspy_gepa.proposers import CodeProposer, InstructionProposer

logger = logging.getLogger(__name__)

_scope: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("dspy_gepa_usage_scope",
                                                                               default=None)

ProposalFn = Callable[[dict[str, str], Mapping[str, Sequence[Mapping[str, Any]]], list[str]], dict[str, str]]


class DspyAdapter:
    """Builds, runs and scores DSPy programs for the engine.

    * ``build_program(candidate)``: a deep copy of the student with each named predictor's instructions
      replaced by the candidate's text for that name.
    * ``evaluate(batch, candidate, capture_traces)``: runs the program on each example (on
      ``num_threads`` threads), scores it with ``metric(gold, pred, None, None, None)``; an exception
      inside the program scores ``failure_score`` for that example and keeps the batch aligned, an LM
      outage raises :class:`~dspy_gepa.exceptions.InfrastructureError`, an unusable metric result raises
      :class:`~dspy_gepa.exceptions.MetricError`.
    * ``make_reflective_dataset``: per component, records built from that predictor's own trace
      entries, with feedback from ``metric(gold, pred, trace, pred_name, pred_trace)``.
    * ``propose_new_texts``: the instruction proposer, run with the reflection LM.
    """

    def __init__(
        self,
        student: dspy.Module,
        metric: Callable[..., Any],
        *,
        failure_score: float = 0.0,
        num_threads: int | None = None,
        add_format_failure_as_feedback: bool = False,
        reflection_lm: dspy.BaseLM | None = None,
        instruction_proposer: ProposalFn | None = None,
        code_proposer: Callable[..., dict[str, str]] | None = None,
        warn_on_score_mismatch: bool = True,
        reflection_limits: ReflectionLimits | None = None,
        prices: Prices | None = None,
        require_prices: bool = False,
        program_cache_size: int = 16,
    ):
        self.student = student
        self.metric = metric
        self.failure_score = float(failure_score)
        self.num_threads = num_threads
        self.add_format_failure_as_feedback = add_format_failure_as_feedback
        self.reflection_lm = reflection_lm
        self.instruction_proposer = instruction_proposer if instruction_proposer is not None else InstructionProposer()
        self.code_proposer = code_proposer if code_proposer is not None else CodeProposer()
        self._custom_proposers = (instruction_proposer is not None, code_proposer is not None)
        self._warned_code = False
        self.warn_on_score_mismatch = warn_on_score_mismatch
        self.limits = reflection_limits or ReflectionLimits()
        self.prices = dict(prices or {})
        self.require_prices = require_prices
        self.flex_paths = list(flex.flex_parts(student))
        self.component_names = [name for name, _ in student.named_predictors()] + self.flex_paths
        self._flex_tasks, self._flex_contexts = flex.task_context(student)
        self._programs: dict[tuple, dspy.Module] = {}
        self._cache_size = program_cache_size
        self._lock = threading.Lock()
        remember_secrets(self.secrets())

    def secrets(self) -> list[str]:
        """Credentials the run's LMs carry (API keys, Authorization headers): masked wherever they might
        appear in what GEPA writes (remembered at construction; a judge LM's are learned as it is called)."""
        lms = [p.lm for _, p in self.student.named_predictors()] + [dspy.settings.lm, self.reflection_lm]
        return [s for lm in lms if lm is not None for s in lm_secrets(lm)]

    # ---------------------------------------------------------------- programs

    def build_program(self, candidate: Mapping[str, str]) -> dspy.Module:
        """A new program: the student with the candidate's instructions (and ``dspy.Flex`` sources). Unknown
        names are an error; a Flex source that cannot be bound raises one of ``flex.BIND_ERRORS``."""
        unknown = set(candidate) - set(self.component_names)
        if unknown:
            raise KeyError(f"Candidate names components the program does not have: {sorted(unknown)}; "
                           f"its components are {self.component_names}.")
        program = self.student.deepcopy()
        flex.bind(program, dict(candidate))
        for name, predictor in program.named_predictors():
            if name in candidate:
                predictor.signature = predictor.signature.with_instructions(candidate[name])
        return program

    def save_program(self, candidate: Mapping[str, str], path: str | os.PathLike) -> None:
        """``program.save`` of the candidate's program, with the credentials DSPy keeps in it masked."""
        self.build_program(candidate).save(str(path))
        scrub_saved_program(path)

    def _program(self, candidate: Mapping[str, str]) -> dspy.Module:
        """Built programs are cached per candidate; DSPy programs may be called from several threads.

        Looked up on every rollout, so without a lock or a digest: the key is the candidate's items
        (strings cache their hashes), and a plain dict read is atomic."""
        key = tuple(sorted(candidate.items()))
        hit = self._programs.get(key)
        if hit is not None:
            return hit
        program = self.build_program(candidate)
        watch_parse_failures(program)
        with self._lock:
            hit = self._programs.setdefault(key, program)
            while len(self._programs) > self._cache_size:
                self._programs.pop(next(iter(self._programs)))
        return hit

    # ---------------------------------------------------------------- evaluation

    def evaluate(self, batch: list[dspy.Example], candidate: Candidate, capture_traces: bool = False) -> EvaluationBatch:
        try:
            program = self._program(candidate)
        except flex.BIND_ERRORS as exc:  # the candidate's code itself: a failure on every example
            error = redact(f"the candidate's dspy.Flex code could not be bound: {type(exc).__name__}: {exc}")
            logger.info("%s; scoring the batch as failures.", error)
            return EvaluationBatch.from_rollouts([Rollout(
                score=self.failure_score, error=error,
                trajectory=Trajectory(None, [], error, self.failure_score, None, ex) if capture_traces else None)
                for ex in batch])
        threads = min(len(batch), self.num_threads or dspy.settings.num_threads or 1)
        if threads <= 1:
            rows = [self._run_one(program, ex, capture_traces) for ex in batch]
        else:
            with ThreadPoolExecutor(threads, thread_name_prefix="dspy-gepa-eval") as pool:
                futures = [pool.submit(copy_context().run, self._run_one, program, ex, capture_traces)
                           for ex in batch]
                rows = [f.result() for f in futures]
        return EvaluationBatch.from_rollouts(rows)

    def _run_one(self, program: dspy.Module, example: dspy.Example, capture: bool) -> Rollout:
        error, objectives = None, None
        with record_lm_calls() as calls:
            prediction, entries, exc, raw_trace = run_with_trace(program, example)
            program_calls = len(calls.history)  # the program's calls come first; the metric's (a judge) after
            if exc is not None:
                secrets = self.secrets()
                raise_if_infrastructure(exc, secrets=secrets)
                error = redact(f"{type(exc).__name__}: {exc}", secrets)  # journaled, shown to reflection
                score, feedback = self.failure_score, None
            else:
                score, feedback, objectives = score_rollout(
                    self.metric, example, prediction, context=f"for example {_short(example)}",
                    program_trace=raw_trace if self.flex_paths else None)
        trajectory = Trajectory(prediction, entries, error, score, feedback, example) if capture else None
        usage = {"task": self._priced(CallRecorder(calls.history[:program_calls])),
                 "judge": self._priced(CallRecorder(calls.history[program_calls:]))}
        return Rollout(score=score, output=prediction, feedback=feedback, trajectory=trajectory, error=error,
                       usage={k: v for k, v in usage.items() if v}, objectives=objectives)

    def _priced(self, calls: CallRecorder) -> dict[str, Any]:
        return calls.usage(self.prices, require_prices=self.require_prices)

    @contextlib.contextmanager
    def usage_scope(self) -> Iterator[dict[str, Any]]:
        """Collects, by role, the LM calls of the reflection steps run inside it on this thread: judge
        calls of the feedback metric and the proposer's calls (the engine records them per proposal)."""
        collected: dict[str, Any] = {}
        token = _scope.set(collected)
        try:
            yield collected
        finally:
            _scope.reset(token)

    @contextlib.contextmanager
    def _recording(self, role: str) -> Iterator[None]:
        with record_lm_calls() as calls:
            yield
        scope = _scope.get()
        if scope is not None:
            merge(scope, {role: self._priced(calls)})

    # ---------------------------------------------------------------- reflection

    def make_reflective_dataset(
        self, candidate: Candidate, eval_batch: EvaluationBatch, components_to_update: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        with self._recording("judge"):
            return self._reflective_dataset(candidate, eval_batch, components_to_update)

    def _reflective_dataset(self, candidate: Candidate, eval_batch: EvaluationBatch, components_to_update: list[str]
                            ) -> dict[str, list[dict[str, Any]]]:
        trajectories: list[Trajectory] = list(eval_batch.trajectories or [])
        dataset: dict[str, list[dict[str, Any]]] = {}
        for name in [c for c in components_to_update if c in self.flex_paths]:
            ranked = sorted(range(len(trajectories)), key=lambda i: (trajectories[i].score, i))
            chosen = sorted(ranked[: self.limits.max_records])
            if chosen:
                dataset[name] = [flex.code_record(trajectories[i], self._program_feedback(trajectories[i]),
                                                  self.limits) for i in chosen]
        components_to_update = [c for c in components_to_update if c not in self.flex_paths]
        if not components_to_update:
            return dataset
        program = self._program(candidate)
        predictors = dict(program.named_predictors())
        for name in components_to_update:
            predictor = predictors[name]
            records = []
            for i, entry in select_entries(trajectories, name, self.add_format_failure_as_feedback, self.limits):
                trajectory = trajectories[i]
                records.append(build_record(entry, trajectory, predictor.signature,
                                            self._feedback(entry, trajectory, name, predictors), self.limits))
            if records:
                dataset[name] = records
            else:
                logger.info("No trace of component %r in this minibatch to reflect on.", name)
        return dataset

    def _program_feedback(self, trajectory: Trajectory) -> str:
        """Program-level feedback (for a code component): the metric's, or what went wrong."""
        if trajectory.prediction is None:
            return program_failure_feedback(trajectory)
        return trajectory.feedback if trajectory.feedback is not None else default_feedback(trajectory.score)

    def _feedback(self, entry: TraceEntry, trajectory: Trajectory, name: str, predictors: dict[str, Any]) -> str:
        if entry.failed:
            return format_failure_feedback(predictors[name].signature)
        if trajectory.prediction is None:
            return program_failure_feedback(trajectory)
        trace = [(predictors[e.name], e.inputs, e.outputs) for e in trajectory.entries if not e.failed]
        score, feedback = call_metric(self.metric, trajectory.example, trajectory.prediction, trace, name,
                                      [(predictors[name], entry.inputs, entry.outputs)],
                                      context=f"for example {_short(trajectory.example)} with pred_name={name!r}")
        if abs(score - trajectory.score) > 1e-9 and self.warn_on_score_mismatch:
            self.warn_on_score_mismatch = False
            logger.warning(
                "The metric's score with pred_name=%r (%g) differs from its program-level score (%g). GEPA uses "
                "the program-level score and takes only the feedback text from the predictor-level call; this is "
                "expected for non-deterministic metrics (LM judges). Set warn_on_score_mismatch=False to silence.",
                name, score, trajectory.score)
        return feedback if feedback is not None else default_feedback(trajectory.score)

    def propose_new_texts(
        self,
        candidate: Candidate,
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]:
        """New texts from the instruction proposer, and new ``dspy.Flex`` sources from the code proposer
        (``code_proposer``, or the built-in :class:`~dspy_gepa.proposers.CodeProposer`), both run with the
        reflection LM as DSPy's LM."""
        lm = self.reflection_lm or dspy.settings.lm
        code = [c for c in components_to_update if c in self.flex_paths]
        instructions = [c for c in components_to_update if c not in self.flex_paths]
        if code and self._custom_proposers == (True, False) and not self._warned_code:
            self._warned_code = True
            logger.warning("A custom instruction_proposer handles instructions only; the built-in code proposer "
                           "rewrites the dspy.Flex sources %s (pass code_proposer=... to use your own).", code)
        texts: dict[str, str] = {}
        try:
            with self._recording("reflection"), dspy.context(lm=lm), watch_lms():
                if code:
                    texts.update(self.code_proposer(
                        candidate=dict(candidate), reflective_dataset=reflective_dataset, components_to_update=code,
                        task_descriptions=dict(self._flex_tasks), context_blurbs=dict(self._flex_contexts)))
                if instructions:
                    texts.update(self.instruction_proposer(
                        candidate=dict(candidate), reflective_dataset=reflective_dataset,
                        components_to_update=instructions))
        except Exception as exc:
            raise_if_infrastructure(exc, lm, self.secrets())
            raise
        return texts

    # ---------------------------------------------------------------- journal codec

    def encode_output(self, output: Any) -> Any:
        return codec.encode(output)

    def decode_output(self, data: Any) -> Any:
        return codec.decode(data)

    def encode_trajectory(self, trajectory: Trajectory) -> Any:
        return codec.encode_trajectory(trajectory)

    def decode_trajectory(self, data: Any, example: Any) -> Trajectory:
        trajectory = codec.decode_trajectory(data)
        trajectory.example = example
        return trajectory

    def example_fingerprint(self, example: Any) -> str:
        return codec.example_fingerprint(example)


def _short(example: Any) -> str:
    text = repr(example)
    return text if len(text) <= 120 else text[:117] + "..."
