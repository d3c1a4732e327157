"""``detailed_results``: what a run found, with the fields of dspy.GEPA's ``DspyGEPAResult`` (DSPy 3.x)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dspy

from dspy_gepa.engine import EngineResult, pareto
from dspy_gepa.engine.pareto import best_index
from dspy_gepa.engine.usage import by_role, priced_cost, totals


@dataclass(frozen=True)
class ScreenedCandidate:
    """A candidate the ``staged`` policy scored on its validation screen only (never on every example).

    ``val_subscores`` covers the screen's examples; ``parents`` are indices into the result's
    ``candidates`` (the nearest fully validated ancestors); ``pool_index`` is its index in the run's pool
    (as the journal, the report, trackers and ``proposals`` number candidates)."""

    program: dspy.Module
    candidate: dict[str, str]
    val_subscores: dict[int, float]
    parents: list[int | None]
    discovery_eval_count: int
    pool_index: int


@dataclass(frozen=True)
class DspyGEPAResult:
    """Everything a GEPA run produced, with the fields of dspy.GEPA's ``DspyGEPAResult``, each filled for
    every validation example as dspy.GEPA fills it.

    ``candidates`` holds the candidates scored on every validation example (with the ``staged`` policy,
    the ones it validated in full; the others are in ``screened_candidates``). So ``val_subscores[i]`` has
    a score for every validation example, ``per_val_instance_best_candidates``,
    ``highest_score_achieved_per_val_task`` and ``best_outputs_valset`` cover every example, and
    ``best_idx`` is the returned program. ``parents[i]`` lists the candidates ``i`` came from (``[None]``
    for the seed, two for a merge; a parent that was only screened is replaced by its nearest fully
    validated ancestors); ``discovery_eval_counts[i]`` is how many metric calls had been spent when ``i``
    was found; ``pool_index[i]`` is its index in the run's pool.

    Beyond dspy.GEPA's fields: ``screened_candidates``, ``pool_index``, ``total_cost`` (USD of every LM
    call of the run that had a price: task, judge, reflection and pre-flight; unpriced calls are counted in
    ``usage`` but cost nothing here), ``usage`` (per role: calls, cached calls, input and output tokens,
    cost, unpriced calls), ``proposals`` (per proposal: kind, outcome, parents and new candidate as pool
    indices, metric calls and cost so far, its own cost and tokens), ``discovery_costs[i]`` (USD spent
    when candidate ``i`` joined the pool), ``candidate_texts`` and ``stop_reason``."""

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
    screened_candidates: list[ScreenedCandidate] = field(default_factory=list)
    pool_index: list[int] = field(default_factory=list)
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
        full = [i for i in range(len(state.candidates)) if state.is_full(i)]
        index = {pool: i for i, pool in enumerate(full)}

        def parents_of(pool: int) -> list[int | None]:
            found: list[int] = []
            stack = list(reversed(state.parents[pool]))
            while stack:
                p = stack.pop()
                if p not in index:
                    stack.extend(reversed(state.parents[p]))
                elif index[p] not in found:
                    found.append(index[p])
            return list(found) or [None]

        val_subscores = [dict(state.val_scores[i]) for i in full]
        fronts = pareto.fronts(val_subscores, state.val_ids)
        objective_means = [state.objective_means()[i] for i in full]
        objectives = sorted({n for m in objective_means for n in m})
        best_outputs = None
        if track_best_outputs:
            best_outputs = {vid: [(i, result.val_output(full[i], vid)) for i in sorted(members)]
                            for vid, members in fronts.items()}
        screened = [ScreenedCandidate(program=build_program(state.candidates[i]), candidate=dict(state.candidates[i]),
                                      val_subscores=dict(state.val_scores[i]), parents=parents_of(i),
                                      discovery_eval_count=state.discovered_at[i], pool_index=i)
                    for i in range(len(state.candidates)) if i not in index]
        return cls(
            candidates=[build_program(state.candidates[i]) for i in full],
            parents=[parents_of(i) for i in full],
            val_aggregate_scores=[state.mean(i) for i in full],
            val_subscores=val_subscores,
            per_val_instance_best_candidates=fronts,
            discovery_eval_counts=[state.discovered_at[i] for i in full],
            best_outputs_valset=best_outputs,
            total_metric_calls=result.total_metric_calls,
            num_full_val_evals=state.num_full_val_evals,
            log_dir=log_dir,
            seed=seed,
            val_aggregate_subscores=objective_means if objectives else None,
            per_objective_best_candidates=pareto.fronts(objective_means, objectives) if objectives else None,
            objective_pareto_front={n: max(m[n] for m in objective_means if n in m) for n in objectives}
            if objectives else None,
            screened_candidates=screened,
            pool_index=full,
            candidate_texts=[dict(state.candidates[i]) for i in full],
            stop_reason=result.stop_reason,
            total_cost=priced_cost(result.usage),
            usage=by_role(result.usage),
            proposals=[{k: v for k, v in p.items() if k != "usage"} | {"tokens": totals(p["usage"]).as_dict()}
                       for p in result.proposals],
            discovery_costs=[result.discovery_costs[i] for i in full],
        )

    @property
    def best_idx(self) -> int:
        """The returned program: the highest mean validation score; the earliest wins ties."""
        return best_index(self.val_aggregate_scores)

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
            "screened_candidates": [{"candidate": c.candidate, "val_subscores": c.val_subscores, "parents": c.parents,
                                     "discovery_eval_count": c.discovery_eval_count, "pool_index": c.pool_index}
                                    for c in self.screened_candidates],
            "pool_index": self.pool_index,
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
