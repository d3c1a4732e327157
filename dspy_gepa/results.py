"""``detailed_results``: what a run found, with the fields of dspy.GEPA's ``DspyGEPAResult`` (DSPy 3.x)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dspy

from dspy_gepa.engine import EngineResult
from dspy_gepa.engine.pareto import best_index
from dspy_gepa.engine.usage import by_role, priced_cost, totals


@dataclass(frozen=True)
class DspyGEPAResult:
    """Everything a GEPA run produced. ``candidates[i]`` is a program; ``val_subscores[i]`` maps each
    validation example's index to candidate ``i``'s score on it (on the screen only for candidates the
    ``staged`` policy did not validate in full); ``parents[i]`` lists the candidates
    ``i`` came from (``[None]`` for the seed, two indices for a merge); ``discovery_eval_counts[i]`` is
    how many metric calls had been spent when ``i`` was found.

    Beyond dspy.GEPA's fields: ``total_cost`` (USD of every LM call of the run that had a price: task,
    judge, reflection and pre-flight; unpriced calls are counted in ``usage`` but cost nothing here),
    ``usage`` (per role: calls, cached calls, input and output tokens, cost, unpriced calls),
    ``proposals`` (per proposal: kind, outcome, parents, new candidate, metric calls and cost so far,
    its own cost and tokens), ``discovery_costs[i]`` (USD spent when candidate ``i`` joined the pool),
    ``candidate_texts`` and ``stop_reason``."""

    candidates: list[dspy.Module]
    parents: list[list[int | None]]
    val_aggregate_scores: list[float]
    val_subscores: list[dict[int, float]]
    per_val_instance_best_candidates: dict[int, set[int]]
    discovery_eval_counts: list[int]
    best_outputs_valset: dict[int, list[tuple[int, dspy.Prediction]]] | None = None
    total_metric_calls: int | None = None
    num_full_val_evals: int | None = None
    log_dir: str | None = None
    seed: int | None = None
    val_aggregate_subscores: list[dict[str, float]] | None = None
    per_objective_best_candidates: dict[str, set[int]] | None = None
    objective_pareto_front: dict[str, float] | None = None
    candidate_texts: list[dict[str, str]] = field(default_factory=list)
    stop_reason: str | None = None
    total_cost: float | None = None
    usage: dict[str, dict[str, Any]] = field(default_factory=dict)
    proposals: list[dict[str, Any]] = field(default_factory=list)
    discovery_costs: list[float] = field(default_factory=list)

    @classmethod
    def from_run(cls, result: EngineResult, build_program: Callable[[dict[str, str]], dspy.Module], *, seed: int,
                 log_dir: str | None = None, track_best_outputs: bool = False) -> DspyGEPAResult:
        """The results of an engine run, with each candidate built into a program by ``build_program``."""
        state = result.state
        fronts = state.fronts()
        best_outputs = None
        if track_best_outputs:
            best_outputs = {vid: [(i, result.val_output(i, vid)) for i in sorted(members)]
                            for vid, members in fronts.items()}
        return cls(
            candidates=[build_program(c) for c in state.candidates],
            parents=[list(p) if p else [None] for p in state.parents],
            val_aggregate_scores=state.means(),
            val_subscores=[dict(s) for s in state.val_scores],
            per_val_instance_best_candidates=fronts,
            discovery_eval_counts=list(state.discovered_at),
            best_outputs_valset=best_outputs,
            total_metric_calls=result.total_metric_calls,
            num_full_val_evals=state.num_full_val_evals,
            log_dir=log_dir,
            seed=seed,
            candidate_texts=[dict(c) for c in state.candidates],
            stop_reason=result.stop_reason,
            total_cost=priced_cost(result.usage),
            usage=by_role(result.usage),
            proposals=[{k: v for k, v in p.items() if k != "usage"} | {"tokens": totals(p["usage"]).as_dict()}
                       for p in result.proposals],
            discovery_costs=list(result.discovery_costs),
        )

    @property
    def best_idx(self) -> int:
        """The returned program: the highest mean among candidates validated on every example (with
        ``val_evaluation_policy="staged"``, others hold scores on the screen only); earliest wins ties."""
        full_size = max((len(s) for s in self.val_subscores), default=0)
        return best_index(self.val_aggregate_scores,
                          [i for i, s in enumerate(self.val_subscores) if len(s) == full_size])

    @property
    def best_candidate(self) -> dspy.Module:
        return self.candidates[self.best_idx]

    @property
    def highest_score_achieved_per_val_task(self) -> dict[int, float]:
        return {vid: max(self.val_subscores[i][vid] for i in members)
                for vid, members in self.per_val_instance_best_candidates.items() if members}

    def to_dict(self) -> dict[str, Any]:
        texts = self.candidate_texts or [
            {name: p.signature.instructions for name, p in c.named_predictors()} for c in self.candidates]
        return {
            "candidates": texts,
            "parents": self.parents,
            "val_aggregate_scores": self.val_aggregate_scores,
            "best_outputs_valset": self.best_outputs_valset,
            "val_subscores": self.val_subscores,
            "per_val_instance_best_candidates": {k: sorted(v) for k, v in self.per_val_instance_best_candidates.items()},
            "val_aggregate_subscores": self.val_aggregate_subscores,
            "per_objective_best_candidates": self.per_objective_best_candidates,
            "objective_pareto_front": self.objective_pareto_front,
            "discovery_eval_counts": self.discovery_eval_counts,
            "total_metric_calls": self.total_metric_calls,
            "num_full_val_evals": self.num_full_val_evals,
            "log_dir": self.log_dir,
            "seed": self.seed,
            "best_idx": self.best_idx,
            "stop_reason": self.stop_reason,
            "total_cost": self.total_cost,
            "usage": self.usage,
            "proposals": self.proposals,
            "discovery_costs": self.discovery_costs,
        }
