import dspy
import pytest

from benchmarks.paper.tasks import ifbench
from benchmarks.paper.tasks.ifbench_checks import SUPPORTED
from dspy_gepa.testing import scripted_lm

GOLD = ifbench.example_from_row(
    {
        "key": "t1",
        "prompt": "Name two fruits. Include exactly 2 numbers in the response. The output should not contain any whitespace.",
        "instruction_id_list": ["count:numbers", "format:no_whitespace"],
        "kwargs": [{"N": 2.0, "word": None}, {"N": None}],
    }
)


def test_offline_splits_hold_only_prompts_we_can_check():
    train, val, test = ifbench.load_splits()
    assert (len(train), len(val), len(test)) == (41, 82, 84)
    everything = train + val + test
    assert len({ex.key for ex in everything}) == len(everything) == 207
    assert all(set(ex.instruction_ids) <= SUPPORTED for ex in everything)
    assert all(None not in kw.values() for ex in everything for kw in ex.instruction_kwargs)
    assert ifbench.load_splits(sizes=(2, 3, 4)) == ifbench.load_splits(sizes=(2, 3, 4))
    assert [len(s) for s in ifbench.load_splits(sizes=(2, 3, 4))] == [2, 3, 4]
    with pytest.raises(ValueError):
        ifbench.load_splits(sizes=(42, 1, 1))


def test_online_loader_fails_clearly(monkeypatch, offline_hub):
    from benchmarks.paper.common import DataUnavailableError

    monkeypatch.setitem(__import__("sys").modules, "datasets", offline_hub)
    with pytest.raises(DataUnavailableError, match="IFBench"):
        ifbench.load_splits(offline=False)


def test_mismatched_rows_are_rejected():
    with pytest.raises(ValueError, match="2 instruction ids but 1 kwargs"):
        ifbench.example_from_row({"key": "k", "prompt": "p", "instruction_id_list": ["a", "b"], "kwargs": [{}]})


def test_metric_is_the_fraction_of_constraints_followed():
    assert ifbench.metric(GOLD, dspy.Prediction(response="Apple1,Banana2")) == 1.0
    assert ifbench.metric(GOLD, dspy.Prediction(response="Apple 1, Banana 2")) == 0.5
    assert ifbench.metric(GOLD, dspy.Prediction(response="apple and banana")) == 0.0
    assert ifbench.metric(GOLD, dspy.Prediction()) == 0.0


def test_feedback_lists_met_and_missed_constraints():
    fb = ifbench.feedback_metric(GOLD, dspy.Prediction(response="Apple 1, Banana 2", draft_response="x"))
    assert fb.score == 0.5
    assert "followed 1 of 2" in fb.feedback
    met, missed = fb.feedback.split("Constraints missed:")
    assert "count:numbers(N=2)" in met and "2 numbers" in met
    assert "format:no_whitespace" in missed and "whitespace characters" in missed
    assert "draft" not in fb.feedback


def test_first_stage_feedback_also_reports_the_draft():
    p = dspy.Prediction(response="Apple1,Banana2", draft_response="Apples and bananas")
    fb = ifbench.feedback_metric(GOLD, p, pred_name="generate_response.predict")
    assert fb.score == 1.0
    assert "Your draft (before the rewrite step) followed 0 of 2" in fb.feedback


def test_program_answers_then_rewrites():
    def reply(call):
        if call.field("draft_response") is not None:
            return {"reasoning": "r", "response": call.field("draft_response").replace(" ", "")}
        return {"reasoning": "r", "response": "Apple 1, Banana 2"}

    program = ifbench.make_program()
    assert [n for n, _ in program.named_predictors()] == [f"{p}.predict" for p in ifbench.PREDICTORS]
    with dspy.context(lm=scripted_lm(reply)):
        out = program(prompt=GOLD.prompt)
    assert out.draft_response == "Apple 1, Banana 2" and out.response == "Apple1,Banana2"
    assert ifbench.metric(GOLD, out) == 1.0
