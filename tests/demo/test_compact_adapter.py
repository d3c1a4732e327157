"""CompactJSONAdapter: the output schema it sends, its short prompts, replies it parses or refuses, and calls it
leaves to another adapter."""

from typing import Literal

import dspy
import pytest
from dspy.utils.exceptions import AdapterParseError

from dspy_gepa.demo.compact_adapter import CompactJSONAdapter, output_json_schema
from dspy_gepa.testing import scripted_lm


class Triage(dspy.Signature):
    """Triage the ticket."""

    ticket: str = dspy.InputField()
    customer: str = dspy.InputField()
    label: Literal["urgent", "normal"] = dspy.OutputField()
    reason: str = dspy.OutputField()


def test_schema_lists_output_fields_in_order_with_literal_values():
    schema = output_json_schema(Triage)
    assert list(schema["properties"]) == schema["required"] == ["label", "reason"]
    assert schema["properties"]["label"] == {"enum": ["urgent", "normal"], "type": "string"}
    assert schema["additionalProperties"] is False


def test_llama_cpp_dialect_is_json_object_with_schema():
    fmt = CompactJSONAdapter().response_format(Triage)
    assert fmt == {"type": "json_object", "schema": output_json_schema(Triage)}
    assert CompactJSONAdapter(schema_dialect=None).response_format(Triage) is None
    with pytest.raises(ValueError, match="schema_dialect"):
        CompactJSONAdapter(schema_dialect="xml")


def test_prompt_is_short_and_reply_parses_through_a_real_dspy_lm():
    lm = scripted_lm(lambda call: '{"label": "urgent", "reason": "server down"}')
    with dspy.context(lm=lm, adapter=CompactJSONAdapter(schema_dialect="openai")):
        out = dspy.Predict(Triage)(ticket="Prod is down", customer="ACME")
    assert (out.label, out.reason) == ("urgent", "server down")
    call = lm.engine.calls[0]
    assert call.system == (
        "Triage the ticket.\nReply with a JSON object with the fields: `label` (one of: urgent, normal), `reason`."
    )
    assert call.messages == [("user", "ticket: Prod is down\ncustomer: ACME")]
    fmt = call.request.config.response_format
    assert fmt["type"] == "json_schema" and fmt["schema"]["required"] == ["label", "reason"]


def test_demos_are_rendered_as_json_assistant_turns():
    lm = scripted_lm(lambda call: '{"label": "normal", "reason": "question"}')
    predict = dspy.Predict(Triage)
    predict.demos = [dspy.Example(ticket="How do I export?", customer="Bo", label="normal", reason="how-to")]
    with dspy.context(lm=lm, adapter=CompactJSONAdapter(schema_dialect=None)):
        predict(ticket="Where is the invoice?", customer="Al")
    call = lm.engine.calls[0]
    assert call.messages[0] == ("user", "ticket: How do I export?\ncustomer: Bo")
    assert call.messages[1] == ("assistant", '{"label": "normal", "reason": "how-to"}')
    assert call.request.config.response_format is None


def test_unparsable_reply_raises_adapter_parse_error():
    lm = scripted_lm(lambda call: "I think it is urgent")
    with dspy.context(lm=lm, adapter=CompactJSONAdapter(schema_dialect=None)), pytest.raises(AdapterParseError):
        dspy.Predict(Triage)(ticket="t", customer="c")
    assert len(lm.engine.calls) == 1  # no ChatAdapter-style retry through another adapter


def test_only_for_leaves_other_lms_to_the_other_adapter():
    small = scripted_lm(lambda call: '{"label": "normal", "reason": "r"}', model="scripted/small")
    big = scripted_lm(lambda call: {"label": "urgent", "reason": "big"}, model="scripted/big")
    adapter = CompactJSONAdapter(schema_dialect="openai", only_for=[small])
    with dspy.context(adapter=adapter):
        with dspy.context(lm=small):
            assert dspy.Predict(Triage)(ticket="t", customer="c").label == "normal"
        with dspy.context(lm=big):
            assert dspy.Predict(Triage)(ticket="t", customer="c").reason == "big"
    assert small.engine.calls[0].messages == [("user", "ticket: t\ncustomer: c")]
    big_call = big.engine.calls[0]
    assert "[[ ## ticket ## ]]" in big_call.last_user_text  # DSPy's ChatAdapter format
    assert big_call.request.config.response_format is None
