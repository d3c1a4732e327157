"""What an experiment tracker logs, independent of the service: :class:`ExperimentTracker` turns engine
events into calls on a :class:`~dspy_gepa.tracking._base.Backend` (W&B, MLflow).

Logged, every key under the key prefix (``gepa/`` by default):

* config, once: the optimizer's ``logged_params()`` (scalars only, no keys), the resolved seed and
  budget, data sizes, component names, and the versions of dspy, dspy_gepa, litellm and Python;
* per committed proposal, at step = metric calls committed so far: ``best_val_score``,
  ``num_candidates``, ``iteration``, ``accepted``, ``parent_minibatch_score``/``child_minibatch_score``
  (means over the minibatch), ``new_candidate_val_score``, ``cost`` when known;
* each accepted candidate (instructions, parents, validation score, discovered-at budget) as it is added;
* at the end (also when the run fails): a summary, the candidates table, the best program
  (``program.save`` JSON) and the HTML report.

A resumed run re-emits journaled work with ``replayed=True``; those events are logged only when the
tracker logs into a different run than the one that received them the first time.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dspy_gepa._redact import SECRET_NAME as _SECRET_KEY
from dspy_gepa._redact import redact
from dspy_gepa._run_dir import BEST_PROGRAM, REPORT, TRACKING_STATE, write_text_atomically
from dspy_gepa.engine import events as ev
from dspy_gepa.engine import pareto
from dspy_gepa.tracking._base import STEP_METRIC, Backend
from dspy_gepa.tracking._cost import CostMeter
from dspy_gepa.tracking._recorder import RunRecords
from dspy_gepa.tracking._versions import versions
from dspy_gepa.tracking.report import write_report
from dspy_gepa.tracking.report.run_view import mean

logger = logging.getLogger(__name__)


def safe_params(params: dict[str, Any]) -> dict[str, str | int | float | bool | None]:
    """Scalars only, credential-looking keys dropped, strings redacted and capped."""
    out: dict[str, str | int | float | bool | None] = {}
    for key, value in params.items():
        if _SECRET_KEY.search(key):
            continue
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if isinstance(value, float) and not math.isfinite(value):
            value = repr(value)
        elif isinstance(value, list | tuple):
            value = ", ".join(map(str, value))
        elif value is not None and not isinstance(value, str | int | float | bool):
            value = type(value).__name__
        if isinstance(value, str):
            value = redact(value)[:500]
        out[key] = value
    return out


@dataclass
class RunContext:
    """What the trackers need besides events: safe optimizer params, where the run lives, how to save a
    program, and the run's journal records (for the report)."""

    params: dict[str, Any]
    log_dir: Path | None
    records: RunRecords
    save_program: Callable[[dict[str, str], Path], None] | None = None

    def load_state(self) -> dict[str, Any]:
        if self.log_dir is None:
            return {}
        try:
            return json.loads((self.log_dir / TRACKING_STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def save_state(self, **values: Any) -> None:
        if self.log_dir is None:
            return
        state = {**self.load_state(), **values}
        try:
            write_text_atomically(self.log_dir / TRACKING_STATE, json.dumps(state, indent=1))
        except OSError as exc:
            logger.warning("Could not write %s: %s", self.log_dir / TRACKING_STATE, exc)


class ExperimentTracker:
    """Event subscriber that logs one optimization to one :class:`Backend`."""

    def __init__(self, backend: Backend, ctx: RunContext):
        self.backend = backend
        self.ctx = ctx
        self.started = False
        self.components: list[str] = []
        self.rows: dict[int, dict[str, Any]] = {}
        self.val_scores: dict[int, dict[int, float]] = {}
        self.best_idx: int | None = None
        self.best: float | None = None
        self.cost = CostMeter()
        self.metric_calls = 0

    def __repr__(self) -> str:
        return f"<{self.backend.name} tracker>"

    # The engine emits RunStarted once; starting is done by the session's critical subscriber so that a
    # tracker that cannot start stops the run before any LM call.
    def start(self, event: ev.RunStarted) -> None:
        self.components = list(event.seed_candidate)
        stored = self.ctx.load_state()
        remember = self.backend.start(resumed=event.resumed, stored=stored, components=self.components)
        self.started = True  # from here on the backend has a run to finish, whatever happens next
        backend = self.backend
        logger.info("Logging to %s run %s (%s) under %r.", backend.name, backend.run_id,
                    "attached" if backend.attached else "continued" if backend.continuing else "new", backend.prefix)
        if remember:
            self.ctx.save_state(**remember)
        config = getattr(event, "config", {}) or {}
        params = {
            **self.ctx.params,
            "seed": config.get("seed", self.ctx.params.get("seed")),
            "budget_metric_calls": event.max_metric_calls,
            "train_size": event.train_size,
            "val_size": event.val_size,
            "num_components": len(self.components),
            "components": self.components,
            "num_threads": config.get("num_threads", self.ctx.params.get("num_threads")),
            "resumed": event.resumed,
            **{f"version/{k}": v for k, v in versions().items()},
        }
        self.backend.log_params({self.backend.key(k): v for k, v in safe_params(params).items()})

    def _skip(self, event: ev.Event) -> bool:
        return event.replayed and self.backend.continuing

    def __call__(self, event: ev.Event) -> None:
        if not self.started:
            return
        self.cost.observe_event(event)
        if isinstance(event, ev.CandidateAdded):
            row = {"idx": event.idx, "parents": list(event.parent_ids), "kind": event.kind,
                   "val_score": event.val_mean, "discovered_at": event.discovered_at, "proposal": event.seq,
                   "instructions": dict(event.candidate), "objectives": dict(event.objective_scores or {})}
            self.rows[event.idx] = row
            self.val_scores[event.idx] = dict(event.val_scores)
            if not self._skip(event):
                self.backend.log_candidate(row)
        elif isinstance(event, ev.CandidateValidated):
            if event.idx in self.rows:
                self.rows[event.idx]["val_score"] = event.val_mean
                self.rows[event.idx]["objectives"] = dict(event.objective_scores or {})
            self.val_scores[event.idx] = dict(event.val_scores)
        elif isinstance(event, ev.BestChanged):
            self.best, self.best_idx = event.val_mean, event.idx
        elif isinstance(event, ev.ProposalCommitted):
            self.metric_calls = max(self.metric_calls, event.metric_calls)
            if not self._skip(event):
                self.backend.log_metrics(self._metrics(event), step=event.metric_calls)
        elif isinstance(event, ev.RunFinished):
            self._final(event, failed=False)
        elif isinstance(event, ev.RunFailed):
            self._final(event, failed=True)

    def _metrics(self, event: ev.ProposalCommitted) -> dict[str, float]:
        outcome = event.outcome
        metrics: dict[str, float | None] = {
            STEP_METRIC: event.metric_calls,
            "iteration": event.seq,
            "best_val_score": self.best,
            "num_candidates": len(self.rows),
            "accepted": float(bool(getattr(outcome, "adds_candidate", False))),
            "parent_minibatch_score": mean(getattr(outcome, "parent_scores", None)),
            "child_minibatch_score": mean(getattr(outcome, "child_scores", None)),
            "new_candidate_val_score": (self.rows[event.new_candidate_idx]["val_score"]
                                        if event.new_candidate_idx in self.rows else None),
            "cost": self.cost.total,
        }
        if event.new_candidate_idx in self.rows:  # multi-objective scores of the new candidate, one metric each
            for name, value in self.rows[event.new_candidate_idx].get("objectives", {}).items():
                metrics[f"new_candidate_objective/{name}"] = value
        return {self.backend.key(k): float(v) for k, v in metrics.items()
                if v is not None and math.isfinite(float(v))}

    def _final(self, event: ev.Event, *, failed: bool) -> None:
        interrupted = isinstance(getattr(event, "error", None), KeyboardInterrupt)
        try:
            self._log_final(event, failed=failed)
        finally:
            self.backend.finish(failed=failed, interrupted=interrupted)
            self.started = False

    def _log_final(self, event: ev.Event, *, failed: bool) -> None:
        key = self.backend.key
        calls = getattr(event, "total_metric_calls", self.metric_calls)
        best_idx = getattr(event, "best_idx", self.best_idx)
        rows = [self.rows[i] for i in sorted(self.rows)]
        front = pareto.front_counts(pareto.fronts(self.val_scores))
        summary: dict[str, Any] = {
            "status": "failed" if failed else "finished",
            "total_metric_calls": calls,
            "num_candidates": len(rows),
            "pareto_front": ", ".join(f"#{i}" for i in front),
        }
        if best_idx is not None and best_idx in self.rows:
            summary["best_idx"] = best_idx
            summary["best_val_score"] = self.rows[best_idx]["val_score"]
            for name, value in self.rows[best_idx].get("objectives", {}).items():
                summary[f"best_objective/{name}"] = value
            for name, text in self.rows[best_idx]["instructions"].items():
                summary[f"best_instructions/{name}"] = text
        if 0 in self.rows:
            summary["seed_val_score"] = self.rows[0]["val_score"]
        if isinstance(event, ev.RunFinished):
            summary["stop_reason"] = event.stop_reason
            summary["num_full_val_evals"] = getattr(event, "num_full_val_evals", None)
        if isinstance(event, ev.RunFailed):
            summary["error"] = redact(f"{type(event.error).__name__}: {event.error}")[:2000]
        if self.cost.total is not None:
            summary["total_cost"] = self.cost.total
        self.backend.log_summary({key(k): v for k, v in summary.items() if v is not None}, step=calls)
        with tempfile.TemporaryDirectory(prefix="dspy-gepa-") as tmp:
            files: dict[str, Path] = {}
            if best_idx in self.rows and self.ctx.save_program is not None:
                path = Path(tmp) / BEST_PROGRAM
                try:
                    self.ctx.save_program(self.rows[best_idx]["instructions"], path)
                    files[BEST_PROGRAM] = path
                except Exception as exc:
                    logger.warning("Could not save the best program for %s: %s", self.backend.name, exc)
            try:
                files[REPORT] = write_report(self.ctx.log_dir or "", Path(tmp) / REPORT,
                                             records=self.ctx.records.records())
            except Exception as exc:
                logger.warning("Could not build the report for %s: %s", self.backend.name, exc)
            self.backend.log_final(rows, files)
