"""The demo runner: which LMs it uses, when it starts the local server, what it reports."""

import json
import re

import pytest

from dspy_gepa.demo.local_lm import LocalLMServer
from dspy_gepa.demo.run import DemoResult, _local_server_if_needed, run_demo
from dspy_gepa.demo.task import CONVENTION, REVIEWS, review_metric
from dspy_gepa.testing import scripted_lm

GOLD = {review: label for review, label, _ in REVIEWS}
NEW_INSTRUCTION = "Answer 'positive' if the reviewer is pleased, 'negative' if not."


def _respond(call):
    """Task calls: right only once the instruction names the two answers, else a word of the model's own.
    Reflection calls: propose that instruction (the default proposer) or the convention (the rule proposer)."""
    review = call.field("review")
    if review is not None:
        return {"sentiment": GOLD[review] if "'positive'" in call.system else "Great"}
    if call.field("feedback") is not None:
        return {"rule": CONVENTION if CONVENTION in call.field("feedback") else "No rule."}
    outputs = re.findall(r"^\d+\. `(\w+)`", call.system.split("Your output fields are:")[-1], re.M)
    if "Your output fields are:" in call.system and outputs:
        return {outputs[0]: NEW_INSTRUCTION, **{name: "" for name in outputs[1:]}}
    return f"```\n{NEW_INSTRUCTION}\n```"


@pytest.fixture
def no_local_server(monkeypatch):
    def refuse(self):
        raise AssertionError("the local LM server must not be started")

    monkeypatch.setattr(LocalLMServer, "start", refuse)


def test_a_given_task_lm_needs_no_local_server(no_local_server):
    lm = scripted_lm(_respond)
    with _local_server_if_needed(lm, None) as server:
        assert server is None
    with _local_server_if_needed("openai/gpt-4.1-mini", None) as server:
        assert server is None


def test_demo_with_a_scripted_provider_skips_the_local_server_and_improves(no_local_server, tmp_path):
    task, reflector = scripted_lm(_respond), scripted_lm(_respond, model="scripted/reflector")
    result = run_demo(lm=task, reflection_lm=reflector, budget=60, seed=0, log_dir=tmp_path / "run")
    assert not result.local_server
    assert result.baseline_score == 0.0  # "Great" is never the expected answer
    assert result.optimized_score == 1.0 and result.proposer == "default"
    assert next(iter(result.optimized_instructions.values())) == NEW_INSTRUCTION
    assert 0 < result.metric_calls <= 60 + 16  # one full validation pass may overshoot the budget
    assert result.lm_calls["task"] >= 48 and result.lm_calls["reflection"] >= 1
    assert result.tokens["task"]["prompt_tokens"] > 0
    saved = json.loads((tmp_path / "run" / "demo_result.json").read_text())
    assert saved["optimized_score"] == 1.0


def test_rule_proposer_adds_the_convention_the_feedback_states(no_local_server, tmp_path):
    task, reflector = scripted_lm(_respond), scripted_lm(_respond, model="scripted/reflector")
    result = run_demo(lm=task, reflection_lm=reflector, budget=60, log_dir=tmp_path, proposer="rule")
    (instruction,) = result.optimized_instructions.values()
    (seed,) = result.baseline_instructions.values()
    assert instruction == f"{CONVENTION}\n{seed}" and result.optimized_score == 1.0 and result.proposer == "rule"
    with pytest.raises(ValueError, match="proposer must be one of"):
        run_demo(lm=task, proposer="clever", log_dir=tmp_path / "x")


def test_metric_states_the_convention_first_for_wrong_answers():
    import dspy

    gold = dspy.Example(review="r", label="negative", note="a let-down").with_inputs("review")
    right = review_metric(gold, dspy.Prediction(sentiment=" Negative "))
    assert right.score == 1.0 and right.feedback == "Correct: the sentiment is 'negative'."
    wrong = review_metric(gold, dspy.Prediction(sentiment="Bad"))
    assert wrong.score == 0.0 and wrong.feedback.startswith(CONVENTION)
    assert "This review is negative (a let-down); the answer 'Bad' is wrong." in wrong.feedback
    assert review_metric(gold, dspy.Prediction(sentiment="")).feedback.endswith("the answer is empty.")


def test_demo_with_only_lm_uses_it_for_reflection_too(no_local_server, tmp_path):
    lm = scripted_lm(_respond)
    result = run_demo(lm=lm, budget=30, log_dir=tmp_path)
    assert result.reflection_lm == result.task_lm == "scripted/lm"
    assert set(result.lm_calls) == {"task"}


def test_result_text_shows_scores_instructions_and_costs():
    result = DemoResult(
        task_lm="openai/smollm2", reflection_lm="openai/smollm2", proposer="rule", local_server=True, budget=50, seed=0, test_size=24,
        baseline_score=0.75, optimized_score=0.875, baseline_instructions={"self": "old"},
        optimized_instructions={"self": "new\nsecond line"}, metric_calls=48,
        lm_calls={"task": 100, "reflection": 3}, tokens={"task": {"prompt_tokens": 10, "completion_tokens": 2},
                                                         "reflection": {"prompt_tokens": 5, "completion_tokens": 1}},
        wall_clock_s=12.5, optimize_s=10.0, log_dir="/tmp/x",
    )
    text = result.format_text()
    assert "75.0% -> 87.5%" in text and "48 metric calls" in text and "15 prompt + 3 completion" in text
    assert "(rule proposer)" in text and "  new\n  second line" in text and "  old" in text and "/tmp/x" in text
    assert json.loads(json.dumps(result.to_dict()))["optimized_instructions"] == {"self": "new\nsecond line"}
