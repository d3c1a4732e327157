import dspy
import pytest

from benchmarks.scripted import TASKS, make_pipeline, make_routing
from benchmarks.scripted.lms import LogNormalLatency
from benchmarks.scripted.worlds import REALISTIC_LATENCY, REPORTING_WORLDS, TUNING_WORLDS, make_chain, make_noisy
from dspy_gepa.testing import ScriptedCall


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
    assert oracle - seed > 0.2 and oracle < 0.9


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


def test_worlds_split_into_tuning_and_reporting_sets():
    assert set(TUNING_WORLDS) | set(REPORTING_WORLDS) == set(TASKS)
    assert not set(TUNING_WORLDS) & set(REPORTING_WORLDS)


def test_noisy_metric_scores_the_same_answer_differently_per_candidate_but_repeatably():
    task = make_noisy(0)
    ex = task.trainset[0]
    def answer(key):
        pred = dspy.Prediction(queue=ex.queue)
        pred._instruction_key = key
        return pred

    scores = {round(float(task.metric(ex, answer(k)).score), 6) for k in range(20)}
    assert len(scores) > 5 and min(scores) < 0.5 < max(scores)  # some right answers are judged wrong
    assert task.metric(ex, answer(3)).score == task.metric(ex, answer(3)).score
    assert task.true_metric(ex, dspy.Prediction(queue=ex.queue)).score == 1.0
    program = task.make_program()
    with dspy.context(lm=task.task_lm()):
        pred = program(ticket=ex.ticket)
    assert isinstance(pred._instruction_key, int) and pred == dspy.Prediction(queue=pred.queue)  # not an output


def test_chain_metric_partial_credit_and_per_predictor_feedback():
    task = make_chain(0, sizes=(12, 6, 4, 3), caps=(4, 3, 2))
    assert [s.name for s in task.steps] == ["decode", "classify", "prioritize"]
    ex = task.trainset[0]
    right = dict(zip(["entity", "category", "priority"], ex.chain[1:], strict=True))
    assert task.metric(ex, dspy.Prediction(**right)).score == 1.0
    wrong_last = task.metric(ex, dspy.Prediction(**{**right, "priority": "unknown"}), None, "prioritize", None)
    assert wrong_last.score == pytest.approx(2 / 3) and wrong_last.feedback.startswith("prioritize:")
    assert "decode" not in wrong_last.feedback
    program = task.with_instructions(task.oracle_instructions)
    assert len(program.named_predictors()) == 3


def test_lognormal_latency_is_a_function_of_the_prompt_with_the_given_median():
    lat = LogNormalLatency(median=0.05, sigma=0.8)
    calls = [ScriptedCall("m", "sys", [("user", f"prompt {i}")], [], None, 0) for i in range(2000)]
    values = sorted(lat(c) for c in calls)
    assert values[1000] == pytest.approx(0.05, rel=0.1)
    assert values[-20] > 4 * 0.05  # heavy tail
    assert lat(calls[7]) == lat(calls[7])
    assert REALISTIC_LATENCY.task.median == pytest.approx(2.0 / REALISTIC_LATENCY.time_scale)
    assert TASKS["heavytail"](0).latencies(0.05, 0.2)[0] == REALISTIC_LATENCY.task
    assert TASKS["routing"](0).latencies(0.05, 0.2) == (0.05, 0.2)
