"""Component selection (``engine/strategies/component.py``): round robin, all, and user selectors."""

from dspy_gepa.engine import events as ev

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
