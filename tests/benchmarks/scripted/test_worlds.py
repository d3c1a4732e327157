import dspy
import pytest

from benchmarks.scripted import TASKS, make_pipeline, make_routing


@pytest.fixture(scope="module", params=list(TASKS))
def task(request):
    return TASKS[request.param](0)


def test_generation_is_deterministic_per_data_seed(task):
    again = TASKS[task.name](0)
    assert [e.toDict() for e in again.valset] == [e.toDict() for e in task.valset]
    other = TASKS[task.name](1)
    assert [e.toDict() for e in other.valset] != [e.toDict() for e in task.valset]


def test_headroom_seed_program_far_below_the_best_reachable_score(task):
    seed = task.score(task.make_program(), task.testset)
    oracle = task.score(task.with_instructions(task.oracle_instructions), task.testset)
    assert oracle == pytest.approx(task.oracle_expected)
    assert seed < 0.2 and oracle > 0.55 and oracle < 0.9


def test_routing_feedback_reveals_rules_only_through_hints():
    task = make_routing(0)
    kinds = {}
    for ex in task.trainset:
        fb = task.metric(ex, dspy.Prediction(queue="unknown")).feedback
        kinds.setdefault(ex.hint_kind, fb)
        assert task.metric(ex, dspy.Prediction(queue=ex.queue)).score == 1.0
    assert "RULE[" in kinds["full"] and "HINT[route]" in kinds["full"]
    assert "RULE[" not in kinds["vague"]
    assert "HINT[route]" in kinds["misleading"]
    full = next(ex for ex in task.trainset if ex.hint_kind == "full")
    assert f"RULE[{full.code}]: answer {full.queue}" in task.metric(full, dspy.Prediction(queue="x")).feedback


def test_pipeline_metric_partial_credit_and_per_predictor_feedback():
    task = make_pipeline(0)
    ex = next(e for e in task.trainset if e.decode_hint == "full" and e.classify_hint == "full")
    both = task.metric(ex, dspy.Prediction(entity=ex.entity, label=ex.label))
    assert both.score == 1.0
    half = task.metric(ex, dspy.Prediction(entity=ex.entity, label="unknown"), None, "classify", None)
    assert half.score == 0.5 and "HINT[classify]" in half.feedback and "HINT[decode]" not in half.feedback
    none = task.metric(ex, dspy.Prediction(entity="unknown", label="unknown"), None, "decode", None)
    assert none.score == 0.0 and f"HINT[decode]: RULE[{ex.alias}]: answer {ex.entity}" in none.feedback
    assert "HINT[classify]" not in none.feedback


def test_programs_count_forward_calls():
    from benchmarks.scripted import FORWARD_CALLS

    task = make_routing(0)
    FORWARD_CALLS.reset()
    task.score(task.make_program(), task.valset[:5])
    assert FORWARD_CALLS.value == 5
