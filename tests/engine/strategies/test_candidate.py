"""Parent selection (``engine/strategies/candidate.py``)."""

import random
from collections import Counter

from dspy_gepa.engine.state import State
from dspy_gepa.engine.strategies import select_current_best, select_pareto


def pool():
    """Candidate 1 is alone best on example 0, candidate 2 on examples 1 to 3; the seed (0) and candidate 3,
    which has the highest mean, are best on none."""
    state = State(component_names=["a"], val_ids=[0, 1, 2, 3])
    for i, scores in enumerate([(0.0, 0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 1.0, 1.0),
                                (0.5, 0.9, 0.9, 0.9)]):
        state.add({"a": f"t{i}"}, [0] if i else [], dict(enumerate(scores)), i, i, "reflective")
    return state


def test_pareto_selection_draws_from_the_pool_in_proportion_to_fronts():
    state = pool()
    assert state.pareto_candidates() == {1: 1, 2: 3}
    rng = random.Random(0)
    drawn = Counter(select_pareto(state, rng) for _ in range(4000))
    assert set(drawn) == {1, 2}
    assert 0.2 < drawn[1] / 4000 < 0.3  # weight 1 of 4


def test_pareto_selection_is_a_function_of_the_rng():
    state = pool()
    assert [select_pareto(state, random.Random(3)) for _ in range(5)] == \
        [select_pareto(state, random.Random(3)) for _ in range(5)]


def test_pareto_selection_without_fronts_falls_back_to_the_best():
    state = State(component_names=["a"], val_ids=[0])
    state.add({"a": "only"}, [], {}, 0, 0, "seed")
    assert state.pareto_candidates() == {}
    assert select_pareto(state, random.Random(0)) == 0


def test_current_best_ignores_the_rng():
    state = pool()
    assert state.best_idx() == 3
    assert {select_current_best(state, random.Random(s)) for s in range(10)} == {3}
