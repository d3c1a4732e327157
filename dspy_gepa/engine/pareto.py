"""Pareto fronts over per-example validation scores, and the best-candidate rule.

Pure functions of score tables, shared by the engine's state, the results and the report, so that the
three can never disagree. A score table maps candidate index -> {validation example id -> score} (a
list indexed by candidate works too). NaN scores (only possible in hand-edited journals) rank lowest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

ScoreTable = Mapping[int, Mapping[int, float]] | Sequence[Mapping[int, float]]


def sortable(x: float) -> float:
    return -math.inf if math.isnan(x) else x


def _rows(table: ScoreTable) -> Iterable[tuple[int, Mapping[int, float]]]:
    return table.items() if isinstance(table, Mapping) else enumerate(table)


def best_index(means: Mapping[int, float] | Sequence[float], eligible: Iterable[int] | None = None) -> int:
    """The candidate returned by a run: the highest mean among ``eligible`` candidates (those validated on
    every example; all candidates when none is, or when ``eligible`` is None); the earliest wins ties."""
    indices = list(means.keys() if isinstance(means, Mapping) else range(len(means)))
    known = set(indices)
    pool = [i for i in (eligible or ()) if i in known] or indices
    return max(pool, key=lambda i: (sortable(means[i]), -i))


def common_ids(table: ScoreTable) -> list[int]:
    """Validation ids every candidate has a score on."""
    ids: set[int] | None = None
    for _, scores in _rows(table):
        ids = set(scores) if ids is None else ids & scores.keys()
    return sorted(ids or ())


def fronts(table: ScoreTable, ids: Iterable[int] | None = None) -> dict[int, set[int]]:
    """For each example of ``ids`` (default: those every candidate was scored on), the candidates that
    reach the best score on it."""
    rows = list(_rows(table))
    out: dict[int, set[int]] = {}
    for vid in (common_ids(table) if ids is None else ids):
        scored = [(sortable(scores[vid]), idx) for idx, scores in rows if vid in scores]
        if not scored:
            continue
        top = max(s for s, _ in scored)
        out[vid] = {idx for s, idx in scored if s == top}
    return out


def front_counts(example_fronts: Mapping[int, Iterable[int]]) -> dict[int, int]:
    """Candidates on at least one example's front, with on how many examples, by index."""
    counts: dict[int, int] = {}
    for members in example_fronts.values():
        for idx in members:
            counts[idx] = counts.get(idx, 0) + 1
    return dict(sorted(counts.items()))


def best_per_example(table: ScoreTable, ids: Iterable[int]) -> dict[int, float]:
    """The best score any candidate reached on each example of ``ids`` that some candidate was scored on
    (NaN ranks lowest, as in :func:`fronts`)."""
    rows = [scores for _, scores in _rows(table)]
    return {vid: max((scores[vid] for scores in rows if vid in scores), key=sortable)
            for vid in ids if any(vid in scores for scores in rows)}


def prune_dominated(example_fronts: Mapping[int, Iterable[int]], means: Mapping[int, float] | Sequence[float]
                    ) -> dict[int, int]:
    """The candidates parents are drawn from, each with its weight (the number of examples it is best on).

    As in GEPA's selection (arXiv 2507.19457, Alg. 2), a candidate is dropped when every example it is
    best on also has another remaining candidate that is best on it; candidates are considered weakest
    first (lowest mean, then oldest), one at a time, until no more can be dropped. Ties therefore do not
    keep a candidate alive: what remains is a small set that still covers every example's best score.

    Dropping only ever removes members from fronts, so a candidate that could not be dropped when it was
    considered can never be dropped later: one weakest-first pass reaches the same set as starting over
    after every drop, in time linear in the total size of the fronts.
    """
    members_list = [members for members in example_fronts.values() if members]
    freq = front_counts(dict(enumerate(members_list)))
    left = [len(members) for members in members_list]  # remaining members of each front
    fronts_of: dict[int, list[int]] = {idx: [] for idx in freq}
    for f, members in enumerate(members_list):
        for idx in members:
            fronts_of[idx].append(f)
    remaining = set(freq)
    for idx in sorted(freq, key=lambda i: (means[i], i)):
        if all(left[f] > 1 for f in fronts_of[idx]):
            remaining.discard(idx)
            for f in fronts_of[idx]:
                left[f] -= 1
    return {i: freq[i] for i in sorted(remaining)}
