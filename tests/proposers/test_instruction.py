import base64

import dspy
import pytest

from dspy_gepa import InstructionProposer, UnusableProposalError
from dspy_gepa.testing import ScriptedReply, scripted_lm

RECORDS = [{"Inputs": {"word": "apple"}, "Generated Outputs": {"color": "unknown"},
            "Feedback": "Wrong. Add the rule 'apple => red'."}]

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 64).decode()


def propose(reply, proposer=None, records=RECORDS):
    lm = scripted_lm(lambda call: reply(call) if callable(reply) else reply)
    with dspy.context(lm=lm):
        out = (proposer or InstructionProposer())({"self": "Old."}, {"self": records}, ["self"])
    return out, lm.engine.calls


def test_writes_the_new_instruction_from_current_instruction_and_feedback():
    out, calls = propose(lambda call: {"new_instruction": call.field("current_instruction") + " apple => red"})
    assert out == {"self": "Old. apple => red"}
    text = calls[0].prompt
    assert "apple => red" in text and "# Example 1" in text and "Old." in text


@pytest.mark.parametrize("reply,match", [
    (ScriptedReply("[[ ## new_instruction ## ]]\nBe caref", finish_reason="length"), "cut off"),
    ({"new_instruction": "   "}, "empty"),
    ("no fields at all", "could not be parsed"),
])
def test_unusable_replies_are_never_adopted(reply, match):
    with pytest.raises(UnusableProposalError, match=match):
        propose(reply)


def test_fenced_instruction_is_unwrapped():
    out, _ = propose({"new_instruction": "```\nUse the rules.\n```"})
    assert out["self"] == "Use the rules."


def test_images_reach_the_reflection_lm_as_parts_in_order_with_placeholders():
    images = [dspy.Image(PNG), dspy.Image(PNG.replace("MDAw", "MTEx"))]
    records = [{"Inputs": {"picture": images[0], "question": "what?"}, "Generated Outputs": {"answer": "dog"},
                "Feedback": "It is a cat."},
               {"Inputs": {"pictures": [images[1]]}, "Generated Outputs": {"answer": "x"}, "Feedback": "no"}]
    out, calls = propose({"new_instruction": "Look at the ears."}, records=records)
    call = calls[0]
    assert "[IMAGE-1]" in call.prompt and "[IMAGE-2]" in call.prompt
    assert [p.url or p.data for p in call.images] == [image.url.split(",", 1)[1] for image in images]
    assert "base64" not in call.prompt

    _, calls = propose({"new_instruction": "x"}, InstructionProposer(include_images=False), records)
    assert calls[0].images == [] and "[image omitted]" in calls[0].prompt

    _, calls = propose({"new_instruction": "x"}, InstructionProposer(max_images=1), records)
    assert len(calls[0].images) == 1 and "Only the first 1 of 2 images" in calls[0].prompt


def test_additional_instructions_reach_the_prompt():
    _, calls = propose({"new_instruction": "x"}, InstructionProposer("Write at most ten words."))
    assert "Write at most ten words." in calls[0].system
