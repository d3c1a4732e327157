"""Component selection (``engine/strategies/component.py``): round robin, all, and user selectors."""

import pytest

from dspy_gepa.engine import events as ev
from dspy_gepa.engine.state import State
from dspy_gepa.engine.strategies import call_custom_selector, select_all, select_round_robin
from dspy_gepa.engine.view import StateView

from ..fakes import run


def test_round_robin_changes_one_component_per_proposal():
    result, _, events = run(components=("a", "b", "c"), budget=200, use_merge=False)
    s = result.state
    for idx in range(1, len(s.candidates)):
        parent = s.parents[idx][0]
        changed = [c for c in "abc" if s.candidates[idx][c] != s.candidates[parent][c]]
        assert len(changed) == 1
    started = [e.components for e in events if isinstance(e, ev.ProposalStarted) and e.kind == "reflective"]
    assert all(len(c) == 1 for c in started)


def test_all_selector_changes_every_component():
    result, _, events = run(components=("a", "b"), budget=120, component_selector="all", use_merge=False)
    started = [e.components for e in events if isinstance(e, ev.ProposalStarted) and e.kind == "reflective"]
    assert started and all(c == ["a", "b"] for c in started)


def test_custom_selector_sees_gepa_style_state():
    calls = []

    def pick_last(state, trajectories, subsample_scores, candidate_idx, candidate):
        calls.append((len(state.program_candidates), state.list_of_named_predictors, candidate_idx))
        return [state.list_of_named_predictors[-1]]

    result, _, _ = run(components=("a", "b"), budget=40, component_selector=pick_last, use_merge=False)
    assert calls and all(names == ["a", "b"] for _, names, _ in calls)
    s = result.state
    assert all(c["a"] == "Solve a." for c in s.candidates)


def three_components():
    state = State(component_names=["a", "b", "c"], val_ids=[0])
    state.add({"a": "A", "b": "B", "c": "C"}, [], {0: 0.0}, 0, 0, "seed")
    return state


def test_built_in_selectors_read_the_state_without_changing_it():
    state = three_components()
    assert select_round_robin(state, 0) == select_round_robin(state, 0) == ["a"]
    assert state.round_robin_next == [0]
    state.advance_round_robin(0)
    assert select_round_robin(state, 0) == ["b"]
    assert select_all(state, 0) == ["a", "b", "c"]


def selector_returning(value):
    def selector(state, trajectories, subsample_scores, candidate_idx, candidate):
        return value

    return selector


def test_a_custom_selector_may_return_one_name_or_a_list():
    state = three_components()
    assert call_custom_selector(selector_returning("b"), state, StateView(state, 1), [], [], 0) == ["b"]
    assert call_custom_selector(selector_returning(("c", "a")), state, StateView(state, 1), [], [], 0) == ["c", "a"]


@pytest.mark.parametrize("value", [["z"], [], None, ["a", "z"]])
def test_a_custom_selector_naming_no_known_component_is_refused(value):
    with pytest.raises(ValueError, match=r"must return a non-empty list of component names from \['a', 'b', 'c'\]"):
        state = three_components()
        call_custom_selector(selector_returning(value), state, StateView(state, 1), [], [], 0)
