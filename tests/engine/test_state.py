"""The optimization state (``engine/state.py``): candidates, lineage, screened scores and the parent pool."""

from dspy_gepa.engine.state import State
from dspy_gepa.engine.types import candidate_hash


def state_with(*scores, val_ids=(0, 1, 2), components=("a",)):
    """A state whose candidate ``i`` has validation ``scores[i]``, each the child of the one before."""
    state = State(component_names=list(components), val_ids=list(val_ids))
    for i, s in enumerate(scores):
        state.add({c: f"{c}{i}" for c in components}, [i - 1] if i else [], s, discovered_at=i, seq=i,
                  kind="seed" if i == 0 else "reflective")
    return state


def test_pareto_candidates_prune_dominated_candidates():
    """Fronts: example 0 {1, 2}, example 1 {2}, example 2 {0, 1, 2} (all zero). Weakest first: 0 is covered
    everywhere, then 1 (2 is on both its fronts); 2 alone is needed, with weight 3 (best on all three)."""
    state = state_with({0: 0.0, 1: 0.0, 2: 0.0}, {0: 1.0, 1: 0.0, 2: 0.0}, {0: 1.0, 1: 1.0, 2: 0.0})
    assert state.fronts() == {0: {1, 2}, 1: {2}, 2: {0, 1, 2}}
    assert state.pareto_candidates() == {2: 3}


def test_pareto_candidates_compare_screened_candidates_on_the_screen():
    """Candidate 1 was only screened on examples 0 and 1: fronts and means use those two only."""
    state = state_with({0: 0.5, 1: 0.5, 2: 0.5, 3: 0.5}, {0: 1.0, 1: 0.2}, val_ids=(0, 1, 2, 3))
    assert state.common_ids() == [0, 1]
    assert state.common_means() == [0.5, 0.6]
    assert state.fronts() == {0: {1}, 1: {0}}
    assert state.pareto_candidates() == {0: 1, 1: 1}


def test_no_candidates_no_pool():
    state = State(component_names=["a"], val_ids=[0, 1])
    assert state.common_ids() == [0, 1]
    assert state.fronts() == {} and state.pareto_candidates() == {}


def test_best_is_fully_validated_and_counts_full_validations():
    state = state_with({0: 0.5, 1: 0.5}, {0: 1.0}, val_ids=(0, 1))
    assert state.best_idx() == 0 and not state.is_full(1) and state.num_full_val_evals == 1
    assert state.means() == [0.5, 1.0]
    state.complete(1, {0: 1.0, 1: 0.0})
    assert state.best_idx() == 0 and state.is_full(1) and state.num_full_val_evals == 2  # 0.5 vs 0.5: the earlier
    state.complete(1, {0: 1.0, 1: 1.0})
    assert state.best_idx() == 1


def test_round_robin_cycles_and_a_child_continues_its_parents_cycle():
    state = state_with({0: 0.0}, components=("a", "b", "c"), val_ids=(0,))
    assert state.round_robin_next == [0]
    state.advance_round_robin(0)
    state.advance_round_robin(0)
    assert state.round_robin_next == [2]
    state.add({"a": "x", "b": "y", "c": "z"}, [0], {0: 1.0}, 5, 1, "reflective")
    state.advance_round_robin(0)
    assert state.round_robin_next == [0, 2]
    merged = state.add({"a": "m", "b": "y", "c": "z"}, [0, 1], {0: 1.0}, 6, 2, "merge")
    assert state.round_robin_next[merged] == 2  # the most advanced parent's position


def test_ancestors_and_lineage_bookkeeping():
    state = state_with({0: 0.0}, {0: 0.5}, {0: 0.7}, val_ids=(0,))
    merged = state.add({"a": "merged"}, [1, 2], {0: 1.0}, 9, 3, "merge")
    assert state.ancestors(merged) == {0, 1, 2} and state.ancestors(0) == set()
    assert state.parents == [[], [0], [1], [1, 2]] and state.kinds == ["seed", "reflective", "reflective", "merge"]
    assert state.hashes[merged] == candidate_hash({"a": "merged"}) and state.index_by_hash[state.hashes[1]] == 1


def test_a_candidate_added_twice_keeps_its_first_index():
    state = state_with({0: 0.0}, {0: 0.5}, val_ids=(0,))
    again = state.add({"a": "a1"}, [0], {0: 0.5}, 3, 2, "reflective")
    assert again == 2 and state.index_by_hash[candidate_hash({"a": "a1"})] == 1
