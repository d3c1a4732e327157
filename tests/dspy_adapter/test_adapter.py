import logging
import math

import dspy
import dspy.lm15
import pytest

from dspy_gepa import DspyAdapter, InfrastructureError, MetricError, ReflectionLimits, ScoreWithFeedback
from dspy_gepa.dspy_adapter import codec
from dspy_gepa.testing import scripted_lm

from ..helpers import TwoStep, examples, metric, reflection_lm, rule_for, task_lm


def adapter_for(program, metric_fn=metric, **kw):
    return DspyAdapter(program, metric_fn, reflection_lm=reflection_lm(), **kw)


def seed(program):
    return {name: p.signature.instructions for name, p in program.named_predictors()}


def test_identical_signature_predictors_keep_separate_reflective_data():
    def respond(call):
        # "first" knows apple, "second" knows banana: each predictor's own output must reach its own records.
        first = "Solve first" in call.system
        return {"color": "FIRST" if first else "SECOND"}

    program = TwoStep()
    cand = {"first": "Solve first.", "second": "Solve second."}
    adapter = adapter_for(program)
    with dspy.context(lm=scripted_lm(respond)):
        batch = adapter.evaluate(examples()[:3], cand, capture_traces=True)
        data = adapter.make_reflective_dataset(cand, batch, ["first", "second"])
    assert [r["Generated Outputs"]["color"] for r in data["first"]] == ["FIRST"] * 3
    assert [r["Generated Outputs"]["color"] for r in data["second"]] == ["SECOND"] * 3


def test_program_exception_scores_failure_and_keeps_batch_aligned():
    class Fragile(dspy.Module):
        def __init__(self):
            super().__init__()
            self.p = dspy.Predict("word -> color")

        def forward(self, word):
            out = self.p(word=word)
            if word == "banana":
                raise ValueError("no bananas")
            return out

    adapter = adapter_for(Fragile(), failure_score=-1.0, num_threads=4)
    data = examples()[:4]
    cand = {"p": "apple => red\nlime => green"}
    with dspy.context(lm=task_lm()):
        batch = adapter.evaluate(data, cand, capture_traces=True)
        records = adapter.make_reflective_dataset(cand, batch, ["p"])["p"]
    assert batch.scores == [1.0, -1.0, 1.0, 0.0]
    assert batch.errors[1] == "ValueError: no bananas" and batch.errors[0] is None
    assert "no bananas" in records[1]["Feedback"]
    assert records[1]["Inputs"]["word"] == "banana"


def test_parse_failures_become_format_feedback_only_when_asked():
    def respond(call):
        return "I think it is red" if call.field("word") == "apple" else {"color": "red"}

    program = dspy.Predict("word -> color")
    cand = seed(program)
    for flag in (False, True):
        adapter = adapter_for(program, add_format_failure_as_feedback=flag)
        with dspy.context(lm=scripted_lm(respond)):
            batch = adapter.evaluate(examples()[:2], cand, capture_traces=True)
            records = adapter.make_reflective_dataset(cand, batch, ["self"]).get("self", [])
        assert batch.scores[0] == 0.0 and "AdapterParseError" in batch.errors[0]
        if flag:
            assert len(records) == 2
            assert "I think it is red" in records[0]["Generated Outputs"]
            assert "[[ ## color ## ]]" in records[0]["Feedback"]
        else:
            assert len(records) == 1 and records[0]["Inputs"]["word"] == "banana"


@pytest.mark.parametrize("value,expected", [
    (0.5, (0.5, None)), (True, (1.0, None)), (ScoreWithFeedback(0.25, "meh"), (0.25, "meh")),
    ({"score": 1, "feedback": "good"}, (1.0, "good")), (dspy.Prediction(score=0.75), (0.75, None)),
])
def test_metric_results_that_are_understood(value, expected):
    from dspy_gepa.dspy_adapter.feedback import read_metric_result

    assert read_metric_result(value, metric, "") == expected


@pytest.mark.parametrize("value,match", [
    (None, "NoneType"), ("0.5", "type str"), (math.nan, "nan"), (math.inf, "inf"),
    ({"feedback": "no score"}, "has no 'score'"), (ScoreWithFeedback("high"), "type str"),
])
def test_unusable_metric_results_name_the_metric_and_value(value, match):
    def my_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return value

    adapter = adapter_for(dspy.Predict("word -> color"), my_metric)
    with dspy.context(lm=task_lm()), pytest.raises(MetricError, match="my_metric") as info:
        adapter.evaluate(examples()[:1], {"self": "x"})
    assert match in str(info.value)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def test_metric_that_raises_is_reported_not_scored_zero():
    def broken(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return pred.colour == gold.color

    adapter = adapter_for(dspy.Predict("word -> color"), broken)
    with dspy.context(lm=task_lm()), pytest.raises(MetricError, match=r"broken raised AttributeError"):
        adapter.evaluate(examples()[:1], {"self": "x"})


def test_score_only_metric_gets_a_feedback_that_states_the_score():
    adapter = adapter_for(dspy.Predict("word -> color"), lambda g, p, t=None, n=None, pt=None: float(p.color == g.color))
    with dspy.context(lm=task_lm()):
        batch = adapter.evaluate(examples()[:1], {"self": "apple => red"}, capture_traces=True)
        record = adapter.make_reflective_dataset({"self": "apple => red"}, batch, ["self"])["self"][0]
    assert "score of 1" in record["Feedback"]


def test_score_mismatch_warns_once(caplog):
    def judge(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return ScoreWithFeedback(0.5 if pred_name else 1.0, "fine")

    adapter = adapter_for(dspy.Predict("word -> color"), judge)
    with dspy.context(lm=task_lm()), caplog.at_level(logging.WARNING):
        batch = adapter.evaluate(examples()[:3], {"self": "x"}, capture_traces=True)
        adapter.make_reflective_dataset({"self": "x"}, batch, ["self"])
        adapter.make_reflective_dataset({"self": "x"}, batch, ["self"])
    assert caplog.text.count("differs from its program-level score") == 1


@pytest.mark.parametrize("error,fatal", [
    (dspy.lm15.AuthError("invalid api key"), True), (dspy.lm15.UnsupportedModelError("no such model"), True),
    (dspy.lm15.RateLimitError("slow down"), True), (dspy.lm15.ContextLengthError("too long"), False),
])
def test_lm_outages_stop_but_prompt_too_long_is_one_example(error, fatal):
    def respond(call):
        raise error

    adapter = adapter_for(dspy.Predict("word -> color"))
    with dspy.context(lm=scripted_lm(respond, "scripted/broken")):
        if fatal:
            with pytest.raises(InfrastructureError, match="scripted/broken") as info:
                adapter.evaluate(examples()[:1], {"self": "x"})
            assert info.value.lm == "scripted/broken"
        else:
            batch = adapter.evaluate(examples()[:1], {"self": "x"})
            assert batch.scores == [0.0] and "ContextWindowExceeded" in batch.errors[0]


def test_history_is_rendered_as_context_and_images_stay_objects():
    sig = dspy.Signature("history: dspy.History, picture: dspy.Image, question -> answer")
    program = dspy.Predict(sig)
    image = dspy.Image("https://example.com/cat.png")
    history = dspy.History(messages=[{"question": "hi", "answer": "hello"}])
    ex = dspy.Example(history=history, picture=image, question="what?", answer="cat").with_inputs(
        "history", "picture", "question")

    def m(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return ScoreWithFeedback(0.0, "look closer")

    adapter = adapter_for(program, m)
    with dspy.context(lm=scripted_lm(lambda call: {"answer": "dog"})):
        batch = adapter.evaluate([ex], seed(program), capture_traces=True)
        record = adapter.make_reflective_dataset(seed(program), batch, ["self"])["self"][0]
    assert record["Inputs"]["picture"] is image or record["Inputs"]["picture"] == image
    assert isinstance(record["Inputs"]["picture"], dspy.Image)
    assert "Turn 1: question: hi; answer: hello" in record["Inputs"]["history"]


def test_reflective_dataset_is_bounded():
    long_word = "x" * 500
    data = [dspy.Example(word=long_word + str(i), color="red").with_inputs("word") for i in range(6)]
    adapter = adapter_for(dspy.Predict("word -> color"), reflection_limits=ReflectionLimits(max_records=2,
                                                                                             max_chars=100))
    cand = {"self": f"{long_word}1 => red"}
    with dspy.context(lm=task_lm()):
        batch = adapter.evaluate(data, cand, capture_traces=True)
        records = adapter.make_reflective_dataset(cand, batch, ["self"])["self"]
    assert len(records) == 2
    assert all(r["Inputs"]["word"].startswith("x" * 100) for r in records)
    assert all("more characters cut" in r["Inputs"]["word"] for r in records)
    assert [batch.scores[i] for i in range(6)].count(1.0) == 1
    assert all(r["Feedback"].startswith("Wrong") for r in records)  # the lowest scores are kept


def test_codec_round_trips_predictions_images_and_trajectories():
    image = dspy.Image("https://example.com/a.png")
    history = dspy.History(messages=[{"q": "a", "a": "b"}])
    pred = dspy.Prediction(answer="x", things=[1, 2], picture=image, history=history)
    back = codec.decode(codec.encode(pred))
    assert isinstance(back, dspy.Prediction) and back.answer == "x" and back.things == [1, 2]
    assert isinstance(back.history, dspy.History) and back.history.messages == history.messages
    assert isinstance(back.picture, dspy.Image) and back.picture.url == image.url

    adapter = adapter_for(TwoStep())
    with dspy.context(lm=task_lm()):
        batch = adapter.evaluate(examples()[:1], {"first": "apple => red", "second": "y"}, capture_traces=True)
    t = batch.trajectories[0]
    again = adapter.decode_trajectory(adapter.encode_trajectory(t), examples()[0])
    assert [(e.name, e.inputs, dict(e.outputs)) for e in again.entries] == \
        [(e.name, e.inputs, dict(e.outputs)) for e in t.entries]
    assert again.score == t.score and again.example == examples()[0]


def test_parallel_evaluation_keeps_order():
    adapter = adapter_for(dspy.Predict("word -> color"), num_threads=8)
    data = examples()
    cand = {"self": "\n".join(f"{ex.word} => {ex.color}" for ex in data[::2])}
    with dspy.context(lm=task_lm(latency=0.01)):
        batch = adapter.evaluate(data, cand)
    assert batch.scores == [1.0 if i % 2 == 0 else 0.0 for i in range(len(data))]
    assert [o.color for o in batch.outputs] == [rule_for(cand["self"], ex.word) or "unknown" for ex in data]


def test_parse_failure_watch_does_not_trigger_dspys_direct_forward_warning():
    from dspy_gepa.dspy_adapter.trace import watch_parse_failures

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(logging.WARNING)
    logger = logging.getLogger("dspy.primitives.module")
    logger.addHandler(handler)
    try:
        program = dspy.ChainOfThought("word -> color")
        watch_parse_failures(program)
        with dspy.context(lm=scripted_lm(lambda call: {"reasoning": "r", "color": "red"})):
            assert program(word="apple").color == "red"
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if "forward" in r.getMessage()]
