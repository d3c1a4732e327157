"""The optimization state: the candidate pool with lineage and per-example validation scores (and, when the
metric gives them, per-example objective scores).

Only the engine's main thread mutates it, at commit time, in proposal order (:meth:`State.add`,
:meth:`State.complete`). Parent selection and merge read its fronts (:meth:`State.front_mapping`), kept as
``frontier_type`` says (gepa's four kinds): ``instance`` per validation example, ``objective`` per
objective (mean over the examples), ``hybrid`` both, ``cartesian`` per (example, objective). Fronts
compare candidates on the examples all of them were scored on.

What the planner reads at every step — means, the best candidate, each example's best score and the
candidates holding it, the fronts and the Pareto candidates parents are drawn from — is kept up to date
at add/complete or cached until the pool changes, so a step costs the same at the thousandth candidate
as at the first. The rules themselves are :mod:`~dspy_gepa.engine.pareto`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dspy_gepa.engine import pareto
from dspy_gepa.engine.types import Candidate, candidate_hash


def _mean(scores: dict[int, float], ids: list[int] | None = None) -> float:
    if ids is None:
        return sum(scores.values()) / len(scores) if scores else 0.0
    return sum(scores[v] for v in ids) / len(ids) if ids else 0.0


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
    # Derived from the scores at add/complete; read through the methods below.
    _means: list[float] = field(default_factory=list, repr=False)
    _common: list[int] | None = field(default=None, repr=False)
    _common_means: list[float] = field(default_factory=list, repr=False)
    _top: dict[int, float] = field(default_factory=dict, repr=False)
    _holders: dict[int, set[int]] = field(default_factory=dict, repr=False)
    _objective_means: list[dict[str, float]] = field(default_factory=list, repr=False)
    _cache: dict[object, object] = field(default_factory=dict, repr=False)

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
        scores = dict(val_scores)
        self.candidates.append(dict(candidate))
        self.hashes.append(h)
        self.parents.append(list(parents))
        self.val_scores.append(scores)
        self.val_objectives.append(dict(objectives or {}))
        self._objective_means.append(_objective_mean(self.val_objectives[idx]))
        self.discovered_at.append(discovered_at)
        self.created_by.append(seq)
        self.kinds.append(kind)
        # A child continues the round-robin where its most advanced parent left off.
        self.round_robin_next.append(max((self.round_robin_next[p] for p in parents), default=0))
        self.index_by_hash.setdefault(h, idx)
        if len(scores) == len(self.val_ids):
            self.num_full_val_evals += 1
        self._means.append(_mean(scores))
        common = self._common
        if common is not None and all(v in scores for v in common):
            self._common_means.append(_mean(scores, common))
        else:
            self._set_common(sorted(scores) if common is None else [v for v in common if v in scores])
        for vid, score in scores.items():
            self._raise_top(vid, idx, score)
        self._cache.clear()
        return idx

    def advance_round_robin(self, idx: int) -> None:
        """Move candidate ``idx``'s component cycle on by one (a reflective proposal was planned on it)."""
        self.round_robin_next[idx] = (self.round_robin_next[idx] % len(self.component_names) + 1) \
            % len(self.component_names)

    def complete(self, idx: int, val_scores: dict[int, float],
                 objectives: dict[int, dict[str, float]] | None = None) -> None:
        """Replace a screened candidate's scores by its scores on the whole valset."""
        old, new = self.val_scores[idx], dict(val_scores)
        self.val_scores[idx] = new
        self.val_objectives[idx] = dict(objectives or {})
        self._objective_means[idx] = _objective_mean(self.val_objectives[idx])
        self.num_full_val_evals += 1
        self._means[idx] = _mean(new)
        for vid in old.keys() | new.keys():
            if vid not in old:
                self._raise_top(vid, idx, new[vid])
            elif vid not in new or pareto.sortable(new[vid]) != pareto.sortable(old[vid]):
                self._rebuild_top(vid)
        self._set_common(pareto.common_ids(self.val_scores))
        self._cache.clear()

    def _raise_top(self, vid: int, idx: int, score: float) -> None:
        s = pareto.sortable(score)
        top = self._top.get(vid)
        if top is None or s > top:
            self._top[vid], self._holders[vid] = s, {idx}
        elif s == top:
            self._holders[vid].add(idx)

    def _rebuild_top(self, vid: int) -> None:
        self._top.pop(vid, None)
        self._holders.pop(vid, None)
        for idx, scores in enumerate(self.val_scores):
            if vid in scores:
                self._raise_top(vid, idx, scores[vid])

    def _set_common(self, ids: list[int]) -> None:
        self._common = ids
        self._common_means = [_mean(scores, ids) for scores in self.val_scores]

    def mean(self, idx: int) -> float:
        return self._means[idx]

    def means(self) -> list[float]:
        return list(self._means)

    def common_means(self) -> list[float]:
        """Mean scores over the examples every candidate was scored on, so screened candidates compare fairly."""
        return list(self._common_means)

    def is_full(self, idx: int) -> bool:
        """Validated on every example (screened candidates have scores on the screen only)."""
        return len(self.val_scores[idx]) == len(self.val_ids)

    def best_idx(self) -> int:
        """The candidate a run returns (:func:`pareto.best_index` over the fully validated candidates)."""
        if "best" not in self._cache:
            self._cache["best"] = pareto.best_index(
                self._means, [i for i in range(len(self.candidates)) if self.is_full(i)])
        return self._cache["best"]  # type: ignore[return-value]

    def common_ids(self) -> list[int]:
        """Validation examples every candidate has a score on: all of them unless some were only screened."""
        return list(self._common) if self._common is not None else sorted(self.val_ids)

    def fronts(self) -> dict[int, set[int]]:
        """For each validation example every candidate was scored on, the candidates with the best score
        (:func:`pareto.fronts`)."""
        return {vid: set(members) for vid, members in self._front_mapping_instance().items()}

    def best_score_per_example(self) -> dict[int, float]:
        """The best score on each validation example some candidate was scored on (:func:`pareto.best_per_example`).
        The same dict until the pool changes: plans keep it as their snapshot, so it must not be modified."""
        if "front_best" not in self._cache:
            self._cache["front_best"] = {vid: self.val_scores[next(iter(self._holders[vid]))][vid]
                                         for vid in self.val_ids if vid in self._top}
        return self._cache["front_best"]  # type: ignore[return-value]

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
        if ids is None:
            return [dict(m) for m in self._objective_means]
        key = ("objective_means", tuple(ids))
        if key not in self._cache:
            self._cache[key] = [_objective_mean(per_example, ids) for per_example in self.val_objectives]
        return [dict(m) for m in self._cache[key]]  # type: ignore[attr-defined]

    def front_mapping(self) -> dict[object, set[int]]:
        """The fronts parent selection and merge read, as ``frontier_type`` says."""
        return {key: set(members) for key, members in self._front_mapping().items()}

    def _front_mapping(self) -> dict[object, set[int]]:
        """:meth:`front_mapping` without copies, computed once per change of the pool: not to be modified."""
        if self.frontier_type == "instance":
            return self._front_mapping_instance()
        if "fronts" not in self._cache:
            ids = self.common_ids()
            means = self.objective_means(ids)
            by_objective = pareto.fronts(means, sorted({n for m in means for n in m}))
            if self.frontier_type == "objective":
                fronts = dict(by_objective)
            elif self.frontier_type == "hybrid":
                fronts = {**{("val_id", v): m for v, m in self._front_mapping_instance().items()},
                          **{("objective", n): m for n, m in by_objective.items()}}
            else:
                table = [{(v, n): s for v in ids for n, s in per_example.get(v, {}).items()}
                         for per_example in self.val_objectives]
                keys = sorted({k for row in table for k in row})
                fronts = {("cartesian", v, n): m for (v, n), m in pareto.fronts(table, keys).items()}
            self._cache["fronts"] = fronts
        return self._cache["fronts"]  # type: ignore[return-value]

    def _front_mapping_instance(self) -> dict[int, set[int]]:
        return {vid: self._holders[vid] for vid in self._common or ()}

    def pareto_candidates(self) -> dict[int, int]:
        """The candidates parents are drawn from, with their sampling weights (:func:`pareto.prune_dominated`),
        computed once per change of the pool."""
        if "pareto" not in self._cache:
            self._cache["pareto"] = pareto.prune_dominated(self._front_mapping(), self._common_means)
        return dict(self._cache["pareto"])  # type: ignore[call-overload]


def _objective_mean(per_example: dict[int, dict[str, float]], ids: list[int] | None = None) -> dict[str, float]:
    rows = [per_example[v] for v in (per_example if ids is None else ids) if v in per_example]
    names = sorted({n for row in rows for n in row})
    return {n: sum(r[n] for r in rows if n in r) / sum(1 for r in rows if n in r) for n in names}
