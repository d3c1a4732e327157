"""StateView: the state as gepa's objects read it (GEPAState's attribute names), and DataView."""

from dspy_gepa.engine.view import DataView, StateView

from .test_state import state_with


def test_state_view_offers_gepa_names_as_copies():
    state = state_with({0: 0.0, 1: 1.0}, {0: 1.0, 1: 1.0}, val_ids=(0, 1), components=("a", "b"))
    view = StateView(state, iteration=7, metric_calls=12)
    assert view.i == 7 and view.total_num_evals == 12
    assert view.list_of_named_predictors == view.component_names == ["a", "b"]
    assert view.parent_program_for_candidate == [[None], [0]]
    assert view.program_full_scores_val_set == view.per_program_tracked_scores == [0.5, 1.0]
    assert view.num_metric_calls_by_discovery == [0, 1] and view.num_full_ds_evals == 2
    assert view.pareto_front_valset == {0: 1.0, 1: 1.0}
    assert view.program_at_pareto_front_valset == view.get_pareto_front_mapping() == {0: {1}, 1: {0, 1}}
    assert view.get_program_average_val_subset(0) == (0.5, 2) and view.valset_evaluations == {0: [0, 1], 1: [0, 1]}
    assert view.frontier_type == "instance" and view.prog_candidate_objective_scores == [{}, {}]
    view.program_candidates[0]["a"] = "changed"
    view.prog_candidate_val_subscores[0][0] = 9.0
    assert state.candidates[0]["a"] == "a0" and state.val_scores[0][0] == 0.0


def test_the_round_robin_cursor_is_the_live_one():
    """gepa's RoundRobinReflectionComponentSelector advances the cursor through the view."""
    state = state_with({0: 0.0}, val_ids=(0,), components=("a", "b"))
    StateView(state, 0).named_predictor_id_to_update_next_for_program_candidate[0] = 1
    assert state.round_robin_next == [1]


def test_data_view_is_a_gepa_data_loader():
    data = DataView(["x", "y", "z"])
    assert len(data) == 3 and data.all_ids() == [0, 1, 2] and data.fetch([2, 0]) == ["z", "x"]
