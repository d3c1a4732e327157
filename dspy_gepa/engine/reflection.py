"""Reflection: turning a parent's minibatch rollouts into new texts, on the reflection pool.

A :class:`~dspy_gepa.engine.proposals.Reflect` request is served from the journal when an earlier session
recorded it (checked to be the same request, or the replay has diverged), and otherwise dispatched: the
adapter builds the reflective dataset and proposes texts, and the reply is checked. An unusable reply
(empty, unknown components, not text) or a proposer error becomes a :class:`ReflectionResult` with an
``error``: counted, never adopted. Errors of dspy-gepa's own kinds (an LM outage, a bad metric) stop the
run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from dspy_gepa._redact import redact
from dspy_gepa.engine import events as ev
from dspy_gepa.engine.proposals import Reflect, ReflectionResult, Run
from dspy_gepa.engine.rollouts import Rollouts
from dspy_gepa.engine.types import Candidate, EvaluationBatch, Rollout, candidate_hash
from dspy_gepa.exceptions import GEPAError, JournalMismatchError, UnusableProposalError

logger = logging.getLogger(__name__)


class Reflector:
    def __init__(self, adapter: Any, rollouts: Rollouts, bus: ev.EventBus, *,
                 on_ready: Callable[[Run, Any], None]):
        self.adapter = adapter
        self.rollouts = rollouts
        self.bus = bus
        self.on_ready = on_ready
        self.submit: Callable[..., Future] | None = None

    def request(self, run: Run, req: Reflect) -> None:
        run.components = list(req.components)
        parent_hash = candidate_hash(req.candidate)
        recorded = self.rollouts.journal.reflections.get(run.plan.seq)
        if recorded is not None:
            if recorded.get("parent") != parent_hash or list(recorded.get("components", [])) != list(req.components):
                raise JournalMismatchError(
                    f"Proposal {run.plan.seq} in the journal reflected on {recorded.get('components')} of candidate "
                    f"{recorded.get('parent')}, but the replay reached {req.components} of {parent_hash}. The run "
                    "is not deterministic (a custom component selector with its own state?); use a new log_dir.")
            self.done(run, ReflectionResult(recorded.get("texts"), recorded.get("error"), recorded.get("usage")),
                      replayed=True)
            return
        rollouts = [self.rollouts.materialized(r, i) for r, i in zip(req.rollouts, req.ids, strict=True)]
        self.submit(run.plan.seq, self._task, req.candidate, req.components, rollouts)

    def done(self, run: Run, result: ReflectionResult, *, replayed: bool) -> None:
        run.reflection_usage = result.usage
        self.bus.emit(ev.ReflectionFinished(seq=run.plan.seq, parent_hash=candidate_hash(run.plan.candidate),
                                            components=run.components, new_texts=result.new_texts,
                                            error=result.error, usage=result.usage, dataset=result.dataset,
                                            replayed=replayed))
        self.on_ready(run, result)

    def _task(self, candidate: Candidate, components: list[str], rollouts: list[Rollout]) -> ReflectionResult:
        scope = getattr(self.adapter, "usage_scope", None)
        with scope() if scope is not None else contextlib.nullcontext() as usage:
            result = self._reflect(candidate, components, rollouts)
        result.usage = dict(usage) if usage else None
        return result

    def _reflect(self, candidate: Candidate, components: list[str], rollouts: list[Rollout]) -> ReflectionResult:
        dataset = None
        try:
            batch = EvaluationBatch.from_rollouts(rollouts)
            dataset = self.adapter.make_reflective_dataset(candidate, batch, components)
            if not any(dataset.get(c) for c in components):
                raise UnusableProposalError(f"no reflective records for {components}: every traced example failed "
                                            "before reaching these components")
            texts = self.adapter.propose_new_texts(candidate, dataset, components)
        except UnusableProposalError as exc:
            return ReflectionResult(None, str(exc), dataset=dataset)
        except GEPAError:
            raise
        except Exception as exc:
            reason = redact(f"{type(exc).__name__}: {exc}")
            logger.warning("Reflection failed: %s", reason)
            return ReflectionResult(None, reason, dataset=dataset)
        return dataclasses.replace(check_texts(texts, components), dataset=dataset)


def check_texts(texts: Any, components: list[str]) -> ReflectionResult:
    """The proposer's reply as new texts, or the reason it cannot be used."""
    if not isinstance(texts, dict):
        return ReflectionResult(None, f"the proposer returned {type(texts).__name__}, expected a dict of texts")
    unknown = [k for k in texts if k not in components]
    if unknown:
        return ReflectionResult(None, f"the proposer returned texts for components it was not asked for: {unknown}")
    bad = [k for k, v in texts.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        return ReflectionResult(None, f"the proposer returned empty or non-text instructions for {bad}")
    if not texts:
        return ReflectionResult(None, f"the proposer returned no text for {components}")
    return ReflectionResult({k: v.strip() for k, v in texts.items()})
