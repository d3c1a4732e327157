"""The Pareto rules and the state's incremental copies of them: the state keeps fronts, means and the
Pareto candidates up to date at commit instead of recomputing them at every plan, and must give exactly
what :mod:`dspy_gepa.engine.pareto` computes from the score tables."""

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from dspy_gepa.engine import pareto
from dspy_gepa.engine.state import State


def prune_by_definition(example_fronts, means):
    """The selection rule as the paper states it: drop the weakest droppable candidate, start over."""
    members_list = [m for m in example_fronts.values() if m]
    freq = pareto.front_counts(dict(enumerate(members_list)))
    remaining = sorted(freq, key=lambda i: (means[i], i))
    dropped = True
    while dropped:
        dropped = False
        for idx in remaining:
            if all(any(o != idx and o in remaining for o in m) for m in members_list if idx in m):
                remaining.remove(idx)
                dropped = True
                break
    return {i: freq[i] for i in sorted(remaining)}


scores = st.sampled_from([0.0, 0.5, 1.0, 1.0, 0.25])


@settings(max_examples=120, deadline=None)
@given(table=st.lists(st.lists(scores, min_size=6, max_size=6), min_size=1, max_size=12))
def test_one_pass_pruning_equals_the_definition(table):
    rows = [dict(enumerate(r)) for r in table]
    fronts = pareto.fronts(rows)
    means = [sum(r.values()) / len(r) for r in rows]
    assert pareto.prune_dominated(fronts, means) == prune_by_definition(fronts, means)


def test_pruning_drops_a_candidate_covered_by_stronger_ones():
    fronts = {0: {0, 1}, 1: {1}, 2: {0, 2}, 3: {2}}
    assert pareto.prune_dominated(fronts, [0.1, 0.5, 0.6]) == {1: 2, 2: 2}


def reference(state):
    """What the state's methods must return, from the pure functions over its score table."""
    ids = pareto.common_ids(state.val_scores)
    fronts = pareto.fronts(state.val_scores, ids)
    common_means = [sum(s[v] for v in ids) / len(ids) if ids else 0.0 for s in state.val_scores]
    means = [sum(s.values()) / len(s) if s else 0.0 for s in state.val_scores]
    full = [i for i, s in enumerate(state.val_scores) if len(s) == len(state.val_ids)]
    best = pareto.best_per_example(state.val_scores, state.val_ids)
    return (ids, fronts, common_means, means, pareto.best_index(means, full),
            pareto.prune_dominated(fronts, common_means), best)


def observed(state):
    return (state.common_ids(), state.fronts(), state.common_means(), state.means(), state.best_idx(),
            state.pareto_candidates(), state.best_score_per_example())


def same(a, b):
    """Equality that lets NaN equal NaN (scores from a hand-edited journal)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 25), screened=st.booleans(), nan=st.booleans())
def test_state_keeps_what_the_pure_rules_compute(seed, n, screened, nan):
    rng = random.Random(seed)
    val_ids = list(range(8))
    screen = sorted(rng.sample(val_ids, 3))
    values = [0.0, 0.5, 1.0, 1.0] + ([math.nan] if nan else [])
    state = State(component_names=["a"], val_ids=val_ids)
    assert state.common_ids() == val_ids and state.fronts() == {} and state.best_score_per_example() == {}
    for i in range(n):
        ids = screen if screened and i and rng.random() < 0.5 else val_ids
        state.add({"a": f"text {i}"}, [rng.randrange(i)] if i else [], {v: rng.choice(values) for v in ids}, i, i,
                  "reflective")
        assert same(observed(state), reference(state))
        partial = [j for j in range(len(state.candidates)) if not state.is_full(j)]
        if partial and rng.random() < 0.3:
            j = rng.choice(partial)
            state.complete(j, {**state.val_scores[j], **{v: rng.choice(values) for v in val_ids
                                                          if v not in state.val_scores[j]}})
            assert same(observed(state), reference(state))


def test_a_screened_seed_makes_the_screen_the_common_examples():
    state = State(component_names=["a"], val_ids=list(range(6)))
    state.add({"a": "seed"}, [], {1: 0.0, 4: 1.0}, 0, 0, "seed")
    state.add({"a": "child"}, [0], {1: 1.0, 4: 1.0}, 5, 1, "reflective")
    assert state.common_ids() == [1, 4] and state.fronts() == {1: {1}, 4: {0, 1}}
    assert state.pareto_candidates() == {1: 2}
    state.complete(1, {v: 1.0 for v in range(6)})
    assert state.best_idx() == 1 and state.common_ids() == [1, 4]
