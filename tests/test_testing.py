import dspy

from dspy_gepa.testing import ScriptedReply, chat_fields, scripted_lm


def test_scripted_lm_answers_through_chat_and_json_adapters():
    lm = scripted_lm(lambda call: {"answer": call.field("question").upper()})
    with dspy.context(lm=lm):
        assert dspy.Predict("question -> answer")(question="hi").answer == "HI"
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        assert dspy.Predict("question -> answer")(question="yo").answer == "YO"
    assert len(lm.engine.calls) == 2


def test_scripted_reply_reports_usage_and_finish_reason():
    lm = scripted_lm(lambda call: ScriptedReply("[[ ## answer ## ]]\nx", finish_reason="length", output_tokens=7))
    with dspy.context(lm=lm):
        dspy.Predict("question -> answer")(question="q")
    entry = lm.history[-1]
    assert entry["response"].finish_reason == "length"
    assert entry["usage"]["completion_tokens"] == 7


def test_chat_fields_parses_sections_and_drops_trailer():
    text = "[[ ## a ## ]]\none\n\n[[ ## b ## ]]\ntwo\nlines\n\nRespond with the fields."
    assert chat_fields(text) == {"a": "one", "b": "two\nlines"}
