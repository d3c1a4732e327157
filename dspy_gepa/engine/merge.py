"""System-aware merge (arXiv 2507.19457, Sec. 3): combine two Pareto candidates that evolved apart
from a common ancestor, taking each component from the descendant that changed it."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from dspy_gepa.engine.state import State
from dspy_gepa.engine.types import Candidate


@dataclass(frozen=True)
class MergePlan:
    parents: tuple[int, int]
    ancestor: int
    candidate: Candidate
    sources: tuple[int, ...]
    subsample: list[int]


@dataclass
class MergeBook:
    """What merge has done so far; restored on resume by replaying commits."""

    due: int = 0
    attempts: int = 0
    tried_triplets: set[tuple[int, int, int]] = None  # type: ignore[assignment]
    made: set[tuple[int, int, tuple[int, ...]]] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.tried_triplets = set() if self.tried_triplets is None else self.tried_triplets
        self.made = set() if self.made is None else self.made


def _splits_usefully(state: State, ancestor: int, i: int, j: int) -> bool:
    """Some component was changed by exactly one of the two descendants."""
    a, ci, cj = state.candidates[ancestor], state.candidates[i], state.candidates[j]
    return any((a[n] == ci[n]) != (a[n] == cj[n]) for n in state.component_names)


def combine(state: State, ancestor: int, i: int, j: int, rng: random.Random) -> tuple[Candidate, tuple[int, ...]]:
    """Each component from the descendant that changed it; when both changed it differently, from the one
    with the higher mean validation score (a coin decides ties)."""
    a, ci, cj = state.candidates[ancestor], state.candidates[i], state.candidates[j]
    means = state.common_means()
    mi, mj = means[i], means[j]
    merged: Candidate = {}
    sources: list[int] = []
    for name in state.component_names:
        if ci[name] == cj[name] or cj[name] == a[name]:
            pick = i
        elif ci[name] == a[name]:
            pick = j
        elif mi != mj:
            pick = i if mi > mj else j
        else:
            pick = rng.choice((i, j))
        merged[name] = state.candidates[pick][name]
        sources.append(pick)
    return merged, tuple(sources)


def stratified_subsample(state: State, i: int, j: int, size: int, rng: random.Random) -> list[int]:
    """Validation ids where ``i`` wins, where ``j`` wins and where they tie, about a third from each,
    topped up at random, so the screen sees both parents' strengths."""
    si, sj = state.val_scores[i], state.val_scores[j]
    common = sorted(si.keys() & sj.keys())
    buckets = ([v for v in common if si[v] > sj[v]], [v for v in common if sj[v] > si[v]],
               [v for v in common if si[v] == sj[v]])
    per_bucket = max(1, math.ceil(size / 3))
    chosen: list[int] = []
    for bucket in buckets:
        take = min(len(bucket), per_bucket, size - len(chosen))
        if take > 0:
            chosen += rng.sample(bucket, take)
    rest = [v for v in common if v not in chosen]
    if len(chosen) < size and rest:
        chosen += rng.sample(rest, min(len(rest), size - len(chosen)))
    return sorted(chosen)


def plan_merge(state: State, book: MergeBook, rng: random.Random, subsample_size: int,
               max_tries: int = 10) -> MergePlan | None:
    """Find two non-dominated candidates, neither an ancestor of the other, with a common ancestor that
    scores no better than either and from which they diverged on different components."""
    pool = sorted(state.pareto_candidates())
    if len(pool) < 2:
        return None
    means = state.common_means()
    for _ in range(max_tries):
        i, j = sorted(rng.sample(pool, 2))
        anc_i, anc_j = state.ancestors(i), state.ancestors(j)
        if i in anc_j or j in anc_i:
            continue
        shared = [
            a for a in sorted(anc_i & anc_j)
            if (i, j, a) not in book.tried_triplets
            and means[a] <= min(means[i], means[j])
            and _splits_usefully(state, a, i, j)
        ]
        if not shared:
            continue
        # Weighted towards better ancestors; the floor keeps all-zero scores from breaking the draw.
        ancestor = rng.choices(shared, weights=[max(means[a], 0.0) + 1e-9 for a in shared], k=1)[0]
        merged, sources = combine(state, ancestor, i, j, rng)
        book.tried_triplets.add((i, j, ancestor))
        if (i, j, sources) in book.made or merged in (state.candidates[i], state.candidates[j]):
            continue
        book.made.add((i, j, sources))
        subsample = stratified_subsample(state, i, j, subsample_size, rng)
        if not subsample:
            continue
        return MergePlan((i, j), ancestor, merged, sources, subsample)
    return None
