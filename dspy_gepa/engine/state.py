"""The optimization state: the candidate pool with lineage and per-example validation scores (and, when the
metric gives them, per-example objective scores).

Only the engine's main thread mutates it, at commit time, in proposal order. Parent selection and merge
read its fronts (:meth:`State.front_mapping`), kept as ``frontier_type`` says (gepa's four kinds):
``instance`` per validation example, ``objective`` per objective (mean over the examples), ``hybrid``
both, ``cartesian`` per (example, objective). Fronts compare candidates on the examples all of them were
scored on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dspy_gepa.engine import pareto
from dspy_gepa.engine.types import Candidate, candidate_hash


@dataclass
class State:
    component_names: list[str]
    val_ids: list[int]
    candidates: list[Candidate] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    parents: list[list[int]] = field(default_factory=list)
    val_scores: list[dict[int, float]] = field(default_factory=list)
    discovered_at: list[int] = field(default_factory=list)
    created_by: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    round_robin_next: list[int] = field(default_factory=list)
    index_by_hash: dict[str, int] = field(default_factory=dict)
    num_full_val_evals: int = 0
    val_objectives: list[dict[int, dict[str, float]]] = field(default_factory=list)
    frontier_type: str = "instance"

    def add(
        self,
        candidate: Candidate,
        parents: list[int],
        val_scores: dict[int, float],
        discovered_at: int,
        seq: int,
        kind: str,
        objectives: dict[int, dict[str, float]] | None = None,
    ) -> int:
        idx = len(self.candidates)
        h = candidate_hash(candidate)
        self.candidates.append(dict(candidate))
        self.hashes.append(h)
        self.parents.append(list(parents))
        self.val_scores.append(dict(val_scores))
        self.val_objectives.append(dict(objectives or {}))
        self.discovered_at.append(discovered_at)
        self.created_by.append(seq)
        self.kinds.append(kind)
        # A child continues the round-robin where its most advanced parent left off.
        self.round_robin_next.append(max((self.round_robin_next[p] for p in parents), default=0))
        self.index_by_hash.setdefault(h, idx)
        if len(val_scores) == len(self.val_ids):
            self.num_full_val_evals += 1
        return idx

    def advance_round_robin(self, idx: int) -> None:
        """Move candidate ``idx``'s component cycle on by one (a reflective proposal was planned on it)."""
        self.round_robin_next[idx] = (self.round_robin_next[idx] % len(self.component_names) + 1) \
            % len(self.component_names)

    def complete(self, idx: int, val_scores: dict[int, float],
                 objectives: dict[int, dict[str, float]] | None = None) -> None:
        """Replace a screened candidate's scores by its scores on the whole valset."""
        self.val_scores[idx] = dict(val_scores)
        self.val_objectives[idx] = dict(objectives or {})
        self.num_full_val_evals += 1

    def mean(self, idx: int) -> float:
        scores = self.val_scores[idx]
        return sum(scores.values()) / len(scores) if scores else 0.0

    def means(self) -> list[float]:
        return [self.mean(i) for i in range(len(self.candidates))]

    def common_means(self) -> list[float]:
        """Mean scores over the examples every candidate was scored on, so screened candidates compare fairly."""
        ids = self.common_ids()
        return [sum(scores[v] for v in ids) / len(ids) if ids else 0.0 for scores in self.val_scores]

    def is_full(self, idx: int) -> bool:
        """Validated on every example (screened candidates have scores on the screen only)."""
        return len(self.val_scores[idx]) == len(self.val_ids)

    def best_idx(self) -> int:
        """The candidate a run returns (:func:`pareto.best_index` over the fully validated candidates)."""
        return pareto.best_index(self.means(), [i for i in range(len(self.candidates)) if self.is_full(i)])

    def common_ids(self) -> list[int]:
        """Validation examples every candidate has a score on: all of them unless some were only screened."""
        return pareto.common_ids(self.val_scores) if self.val_scores else sorted(self.val_ids)

    def fronts(self) -> dict[int, set[int]]:
        """For each validation example every candidate was scored on, the candidates with the best score."""
        return pareto.fronts(self.val_scores, self.common_ids())

    def best_score_per_example(self) -> dict[int, float]:
        return pareto.best_per_example(self.val_scores, self.val_ids)

    def ancestors(self, idx: int) -> set[int]:
        seen: set[int] = set()
        stack = list(self.parents[idx])
        while stack:
            p = stack.pop()
            if p not in seen:
                seen.add(p)
                stack.extend(self.parents[p])
        return seen

    def objective_means(self, ids: list[int] | None = None) -> list[dict[str, float]]:
        """Each candidate's mean score per objective, over ``ids`` (default: all of its own examples)."""
        out = []
        for per_example in self.val_objectives:
            rows = [per_example[v] for v in (per_example if ids is None else ids) if v in per_example]
            names = sorted({n for row in rows for n in row})
            out.append({n: sum(r[n] for r in rows if n in r) / sum(1 for r in rows if n in r) for n in names})
        return out

    def front_mapping(self) -> dict[object, set[int]]:
        """The fronts parent selection and merge read, as ``frontier_type`` says."""
        if self.frontier_type == "instance":
            return self.fronts()
        ids = self.common_ids()
        means = self.objective_means(ids)
        by_objective = pareto.fronts(means, sorted({n for m in means for n in m}))
        if self.frontier_type == "objective":
            return dict(by_objective)
        if self.frontier_type == "hybrid":
            return {**{("val_id", v): m for v, m in self.fronts().items()},
                    **{("objective", n): m for n, m in by_objective.items()}}
        table = [{(v, n): s for v in ids for n, s in per_example.get(v, {}).items()} for per_example in self.val_objectives]
        keys = sorted({k for row in table for k in row})
        return {("cartesian", v, n): m for (v, n), m in pareto.fronts(table, keys).items()}

    def pareto_candidates(self) -> dict[int, int]:
        """The candidates parents are drawn from, with their sampling weights (:func:`pareto.prune_dominated`)."""
        return pareto.prune_dominated(self.front_mapping(), self.common_means())
