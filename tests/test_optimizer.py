"""The GEPA teleprompter: arguments, budget resolution, compile, results, the files a log_dir gets.

The invariants a run keeps (budget, resume, loud failures, determinism) are pinned in ``tests/invariants/``."""

import logging

import dspy
import pytest

from dspy_gepa import GEPA, ConfigurationError, DspyGEPAResult
from dspy_gepa.engine.budget import auto_budget

from .helpers import TwoStep, examples, metric, reflection_lm, split, task_lm


@pytest.fixture(autouse=True)
def task():
    with dspy.context(lm=task_lm()):
        yield


def test_auto_budget_published_examples():
    assert auto_budget(1, 6, 50) == 580
    assert auto_budget(3, 12, 100) == 2565
    gepa = GEPA(metric=metric, auto="medium", reflection_lm=reflection_lm())
    assert gepa.resolve_budget(3, 200, 100) == 2565
    assert GEPA(metric=metric, max_full_evals=3, reflection_lm=reflection_lm()).resolve_budget(1, 10, 5) == 45


@pytest.mark.parametrize("kwargs", [{}, {"auto": "light", "max_metric_calls": 10},
                                    {"max_full_evals": 1, "max_metric_calls": 1}])
def test_exactly_one_budget(kwargs):
    with pytest.raises(ConfigurationError, match="Exactly one of auto, max_full_evals, max_metric_calls"):
        GEPA(metric=metric, reflection_lm=reflection_lm(), **kwargs)


@pytest.mark.parametrize("kwargs,match", [
    ({"auto": "extreme"}, "auto must be one of"),
    ({"max_metric_calls": 0}, "max_metric_calls must be a positive integer"),
    ({"max_metric_calls": 10, "candidate_selection_strategy": "best"}, "candidate_selection_strategy"),
    ({"max_metric_calls": 10, "component_selector": "random"}, "component_selector"),
    ({"max_metric_calls": 10, "reflection_minibatch_size": 0}, "reflection_minibatch_size"),
    ({"max_metric_calls": 10, "track_best_outputs": True}, "track_best_outputs=True requires track_stats=True"),
    ({"max_metric_calls": 10, "gepa_kwargs": {"frobnicate": 1}}, "not supported"),
])
def test_bad_arguments_say_what_is_wrong(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        GEPA(metric=metric, reflection_lm=reflection_lm(), **kwargs)


def test_metric_must_take_five_arguments():
    with pytest.raises(TypeError, match=r"gold, pred, trace=None, pred_name=None, pred_trace=None"):
        GEPA(metric=lambda gold, pred: 1.0, max_metric_calls=10, reflection_lm=reflection_lm())


def test_reflection_lm_or_proposer_required():
    with pytest.raises(ConfigurationError, match="reflection LM or a custom instruction_proposer"):
        GEPA(metric=metric, max_metric_calls=10)
    GEPA(metric=metric, max_metric_calls=10, instruction_proposer=lambda **kw: {})


def test_logged_params_hold_only_safe_scalars():
    lm = dspy.LM("openai/gpt-4.1-mini", api_key="sk-secret-123")  # never called
    params = GEPA(metric=metric, auto="light", reflection_lm=lm, use_wandb=True, wandb_api_key="wandb-secret",
                  wandb_init_kwargs={"project": "p", "api_key": "x"}).logged_params()
    assert params["reflection_lm"] == "openai/gpt-4.1-mini"
    for key, value in params.items():
        assert value is None or isinstance(value, str | int | float | bool), key
    text = repr(params)
    assert "secret" not in text and "wandb_init_kwargs" not in params


def test_compile_optimizes_and_leaves_student_untouched():
    student = dspy.Predict("word -> color")
    before = student.signature.instructions
    train, val = split()
    gepa = GEPA(metric=metric, max_metric_calls=120, reflection_lm=reflection_lm(), track_stats=True)
    optimized = gepa.compile(student, trainset=train, valset=val)
    assert optimized is not student
    assert student.signature.instructions == before
    r = optimized.detailed_results
    assert isinstance(r, DspyGEPAResult)
    assert r.val_aggregate_scores[0] == 0.0
    assert r.val_aggregate_scores[r.best_idx] >= 0.75
    assert optimized.signature.instructions == r.candidate_texts[r.best_idx]["self"]
    assert "=>" in optimized.signature.instructions


def test_detailed_results_fields_are_consistent():
    train, val = split()
    gepa = GEPA(metric=metric, max_metric_calls=100, reflection_lm=reflection_lm(), track_stats=True,
                track_best_outputs=True)
    r = gepa.compile(dspy.Predict("word -> color"), trainset=train, valset=val).detailed_results
    n = len(r.candidates)
    assert len(r.parents) == len(r.val_aggregate_scores) == len(r.val_subscores) == len(r.discovery_eval_counts) == n
    assert r.parents[0] == [None]
    assert r.discovery_eval_counts == sorted(r.discovery_eval_counts)
    assert set(r.per_val_instance_best_candidates) == set(range(len(val)))
    for vid, best in r.highest_score_achieved_per_val_task.items():
        assert best == max(s[vid] for s in r.val_subscores)
    assert r.num_full_val_evals == n and r.seed == 0
    for vid, outputs in r.best_outputs_valset.items():
        assert {i for i, _ in outputs} == r.per_val_instance_best_candidates[vid]
        assert all(isinstance(p, dspy.Prediction) for _, p in outputs)
    d = r.to_dict()
    assert d["best_idx"] == r.best_idx and d["candidates"][0] == {"self": "Given the fields `word`, produce the fields `color`."}


def test_valset_none_uses_trainset_with_warning(caplog):
    with caplog.at_level(logging.WARNING):
        optimized = GEPA(metric=metric, max_metric_calls=60, reflection_lm=reflection_lm(), track_stats=True).compile(
            dspy.Predict("word -> color"), trainset=examples()[:6])
    assert "No valset given" in caplog.text
    assert len(optimized.detailed_results.val_subscores[0]) == 6


@pytest.mark.parametrize("trainset,valset,match", [
    ([], None, "trainset is empty"),
    (None, None, "trainset must be a non-empty list"),
    (examples()[:3], [], "valset is empty"),
    (examples()[:3] + [{"word": "x"}], None, r"trainset\[3\] is a dict, not a dspy.Example"),
    ([dspy.Example(word="x", color="y")], None, r"with_inputs"),
])
def test_bad_data_is_refused(trainset, valset, match):
    with pytest.raises(ConfigurationError, match=match):
        GEPA(metric=metric, max_metric_calls=60, reflection_lm=reflection_lm()).compile(
            dspy.Predict("word -> color"), trainset=trainset, valset=valset)


def test_teacher_and_predictorless_program_are_refused():
    gepa = GEPA(metric=metric, max_metric_calls=60, reflection_lm=reflection_lm())
    with pytest.raises(ConfigurationError, match="teacher"):
        gepa.compile(dspy.Predict("word -> color"), trainset=examples()[:3], teacher=dspy.Predict("word -> color"))

    class Empty(dspy.Module):
        def forward(self, word):
            return dspy.Prediction(color="red")

    with pytest.raises(ConfigurationError, match="no dspy.Predict modules"):
        gepa.compile(Empty(), trainset=examples()[:3])


def test_student_that_cannot_be_copied_gets_a_clear_error():
    import threading

    class Holder(dspy.Module):
        def __init__(self):
            super().__init__()
            self.pair = [dspy.Predict("word -> color"), threading.Lock()]

        def forward(self, word):
            return self.pair[0](word=word)

    with pytest.raises(ConfigurationError, match=r"predictors \[.pair\[0\].\] of Holder could not be deep-copied"):
        GEPA(metric=metric, max_metric_calls=60, reflection_lm=reflection_lm()).compile(Holder(),
                                                                                         trainset=examples()[:3])


def test_missing_lm_is_refused_before_spending_anything():
    with dspy.context(lm=None):
        with pytest.raises(ConfigurationError, match="No LM for predictors"):
            GEPA(metric=metric, max_metric_calls=60, reflection_lm=reflection_lm()).compile(
                dspy.Predict("word -> color"), trainset=examples()[:3])


def test_round_robin_changes_one_predictor_per_proposal():
    train, val = split()
    r = GEPA(metric=metric, max_metric_calls=200, reflection_lm=reflection_lm(), track_stats=True,
             use_merge=False).compile(TwoStep(), trainset=train, valset=val).detailed_results
    assert len(r.candidates) > 2
    changed_sets = []
    for i in range(1, len(r.candidates)):
        parent = r.candidate_texts[r.parents[i][0]]
        changed = [k for k in parent if parent[k] != r.candidate_texts[i][k]]
        assert len(changed) == 1
        changed_sets.append(changed[0])
    assert {"first", "second"} == set(changed_sets)


def test_staged_policy_returns_a_fully_validated_program():
    data = examples()
    train, val = data[:8], data[:16] * 3  # a 48-example valset: the screen is 12 of them
    r = GEPA(metric=metric, max_metric_calls=250, reflection_lm=reflection_lm(), track_stats=True).compile(
        dspy.Predict("word -> color"), trainset=train, valset=val).detailed_results
    assert all(len(s) == 48 for s in r.val_subscores)
    assert {len(c.val_subscores) for c in r.screened_candidates} == {12}
    assert r.num_full_val_evals == len(r.candidates)


@pytest.mark.parametrize("policy", ["full", {"gepa_kwargs": {"val_evaluation_policy": "full_eval"}}])
def test_full_policy_validates_every_candidate(policy):
    kwargs = {"val_evaluation_policy": policy} if isinstance(policy, str) else policy
    data = examples()
    r = GEPA(metric=metric, max_metric_calls=250, reflection_lm=reflection_lm(), track_stats=True, **kwargs).compile(
        dspy.Predict("word -> color"), trainset=data[:8], valset=data[:16] * 3).detailed_results
    assert all(len(s) == 48 for s in r.val_subscores)


def test_bad_policy_and_concurrency_are_refused():
    with pytest.raises(ConfigurationError, match="val_evaluation_policy must be one of"):
        GEPA(metric=metric, max_metric_calls=10, reflection_lm=reflection_lm(), val_evaluation_policy="lazy")
    with pytest.raises(ConfigurationError, match="max_concurrent_proposals"):
        GEPA(metric=metric, max_metric_calls=10, reflection_lm=reflection_lm(), max_concurrent_proposals=0)


def test_best_program_is_saved_and_loads(tmp_path):
    train, val = split()
    optimized = GEPA(metric=metric, max_metric_calls=140, reflection_lm=reflection_lm(), log_dir=str(tmp_path),
                     num_threads=2).compile(TwoStep(), trainset=train, valset=val)
    loaded = TwoStep()
    loaded.load(str(tmp_path / "best_program.json"))
    assert [p.signature.instructions for _, p in loaded.named_predictors()] == \
        [p.signature.instructions for _, p in optimized.named_predictors()]


def test_custom_proposer_works_without_reflection_lm():
    seen = []

    def proposer(candidate, reflective_dataset, components_to_update):
        seen.append(components_to_update)
        rules = {r["Feedback"].split("'")[1] for c in components_to_update for r in reflective_dataset[c]
                 if "'" in r["Feedback"]}
        return {c: candidate[c] + "".join(f"\n{r}" for r in sorted(rules)) for c in components_to_update}

    optimized = GEPA(metric=metric, max_metric_calls=100, instruction_proposer=proposer, track_stats=True).compile(
        TwoStep(), trainset=split()[0], valset=split()[1])
    r = optimized.detailed_results
    assert seen and max(r.val_aggregate_scores) > r.val_aggregate_scores[0]
