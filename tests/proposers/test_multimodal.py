"""MultiModalInstructionProposer on its own, and inside real GEPA.compile runs on a two-predictor image program."""

import re

import dspy
import pytest

from dspy_gepa import GEPA, InstructionProposer, MultiModalInstructionProposer, UnusableProposalError
from dspy_gepa.proposers import ProposeMultimodalInstruction
from dspy_gepa.testing import ScriptedReply, scripted_lm

from ..image_task import (
    COLOR_HINT,
    FruitProgram,
    assert_no_base64_text,
    assert_parts_match_placeholders,
    describe_then_answer,
    examples_text,
    fruit_examples,
    image_of_each_placeholder,
    metric,
    payload,
    placeholders,
    reflection_lm,
    task_lm,
)

TRAIN, VAL = fruit_examples(6), fruit_examples(6, start=6)
IMAGES = {int(re.search(r"#(\d+)", ex.question).group(1)): ex.image for ex in TRAIN + VAL}


def image_in(section: str):
    return IMAGES[int(re.search(r"Is fruit #(\d+) ripe\?", section).group(1))]


def run(proposer, component_selector="round_robin", budget=80, **kw):
    reflection = reflection_lm()
    with dspy.context(lm=task_lm()):
        optimized = GEPA(metric=metric, max_metric_calls=budget, reflection_lm=reflection, instruction_proposer=proposer,
                         component_selector=component_selector, track_stats=True, **kw
                         ).compile(FruitProgram(), trainset=TRAIN, valset=VAL)
    return optimized, reflection.engine.calls


def instructions(program) -> dict[str, str]:
    return {name: p.signature.instructions for name, p in program.named_predictors()}


# ---------------------------------------------------------------------------- the proposer's API

def test_public_api_and_defaults():
    import dspy_gepa

    assert "MultiModalInstructionProposer" in dspy_gepa.__all__
    proposer = MultiModalInstructionProposer()
    assert isinstance(proposer, InstructionProposer)
    assert (proposer.include_images, proposer.max_images, proposer.additional_instructions) == (True, None, None)
    assert proposer.signature is ProposeMultimodalInstruction
    with pytest.raises(ValueError, match="max_images"):
        MultiModalInstructionProposer(max_images=-1)


def test_request_asks_for_visual_analysis_and_carries_additional_instructions():
    lm = scripted_lm(lambda call: {"new_instruction": "Check the color."})
    records = [{"Inputs": {"image": TRAIN[0].image, "question": TRAIN[0].question},
                "Generated Outputs": {"description": "A round fruit."}, "Feedback": "Visual mistake: no color."}]
    with dspy.context(lm=lm):
        out = MultiModalInstructionProposer("Write at most 50 words.")({"describe": "Describe."}, {"describe": records},
                                                                       ["describe"])
    assert out == {"describe": "Check the color."}
    system = lm.engine.calls[0].system
    assert "visual-analysis guidance" in system and "[IMAGE-k]" in system and "Write at most 50 words." in system
    assert "Describe." in lm.engine.calls[0].prompt and "Visual mistake: no color." in lm.engine.calls[0].prompt


@pytest.mark.parametrize("reply,match", [
    (ScriptedReply("[[ ## new_instruction ## ]]\nLook at", finish_reason="length"), "cut off"),
    ({"new_instruction": " "}, "empty"),
    ("no fields", "could not be parsed"),
])
def test_unusable_replies_are_never_adopted(reply, match):
    lm = scripted_lm(lambda call: reply)
    records = [{"Inputs": {"image": TRAIN[0].image}, "Generated Outputs": {"d": "x"}, "Feedback": "no"}]
    with dspy.context(lm=lm), pytest.raises(UnusableProposalError, match=match):
        MultiModalInstructionProposer()({"s": "Old."}, {"s": records}, ["s"])


# ---------------------------------------------------------------------------- inside GEPA.compile

@pytest.mark.parametrize("selector", ["round_robin", "all", describe_then_answer],
                         ids=["round_robin", "all", "custom"])
def test_gepa_run_with_multimodal_proposer(selector):
    seed = instructions(FruitProgram())
    optimized, calls = run(MultiModalInstructionProposer(), selector)

    final = instructions(optimized)
    assert COLOR_HINT in final["describe"] and final["describe"] != seed["describe"]
    assert re.search(r"\w+ => (yes|no)", final["answer"])
    assert optimized.detailed_results.val_aggregate_scores[0] == 0.0
    assert max(optimized.detailed_results.val_aggregate_scores) == 1.0

    with_images = [c for c in calls if c.images]
    assert with_images, "no reflection call carried images"
    for call in calls:
        assert_parts_match_placeholders(call, labelled=True)
        assert_no_base64_text(call, list(IMAGES.values()))
        if "### description\n" in examples_text(call).split("## Generated Outputs")[0]:
            assert call.images == []  # the answer step's records hold no image
    for call in with_images:
        assert "visual-analysis guidance" in call.system
        pairs = image_of_each_placeholder(call, image_in)
        assert len(pairs) == len(call.images) == len(re.findall(r"(?m)^# Example \d+$", examples_text(call)))
        for expected, sent in pairs:
            assert payload(sent) == payload(expected)


def test_gepa_run_with_concurrent_proposals_and_threads():
    optimized, calls = run(MultiModalInstructionProposer(), max_concurrent_proposals=2, num_threads=2)
    assert COLOR_HINT in instructions(optimized)["describe"]
    assert any(c.images for c in calls)
    for call in calls:
        assert_parts_match_placeholders(call, labelled=True)
        assert_no_base64_text(call, list(IMAGES.values()))
        for expected, sent in image_of_each_placeholder(call, image_in):
            assert payload(sent) == payload(expected)


def test_gepa_run_without_images_in_reflection():
    optimized, calls = run(MultiModalInstructionProposer(include_images=False))
    assert COLOR_HINT in instructions(optimized)["describe"]
    assert calls and all(c.images == [] for c in calls)
    omitted = [c for c in calls if "[image omitted]" in examples_text(c)]
    assert omitted and all(placeholders(examples_text(c)) == [] for c in calls)
    for call in calls:
        assert_no_base64_text(call, list(IMAGES.values()))
        assert "[[ ## image_1 ## ]]" not in call.prompt


def test_gepa_run_with_max_images():
    optimized, calls = run(MultiModalInstructionProposer(max_images=1))
    assert COLOR_HINT in instructions(optimized)["describe"]
    capped = [c for c in calls if c.images]
    assert capped and all(len(c.images) == 1 for c in capped)
    assert any("[image left out]" in examples_text(c) for c in capped)
    for call in capped:
        assert_parts_match_placeholders(call, labelled=True)
        (expected, sent), = image_of_each_placeholder(call, image_in)
        assert payload(sent) == payload(expected)


def test_default_proposer_on_an_image_program_sends_images_as_parts():
    optimized, calls = run(None)
    assert COLOR_HINT in instructions(optimized)["describe"]
    with_images = [c for c in calls if c.images]
    assert with_images
    for call in calls:
        assert_parts_match_placeholders(call, labelled=False)
        assert_no_base64_text(call, list(IMAGES.values()))
    for call in with_images:
        assert "[[ ## images ## ]]" in call.prompt
        for expected, sent in image_of_each_placeholder(call, image_in):
            assert payload(sent) == payload(expected)


def test_images_survive_the_journal_when_a_run_resumes(tmp_path):
    """Stopped at its first reflection, a run resumes from log_dir's journal and reflects on the traces
    recorded there (no rollout is run again first): their images must still reach reflection as parts."""
    reference, _ = run(MultiModalInstructionProposer())

    def stop(call):
        raise KeyboardInterrupt

    with dspy.context(lm=task_lm()), pytest.raises(KeyboardInterrupt):
        GEPA(metric=metric, max_metric_calls=80, reflection_lm=scripted_lm(stop), log_dir=str(tmp_path),
             instruction_proposer=MultiModalInstructionProposer(), track_stats=True
             ).compile(FruitProgram(), trainset=TRAIN, valset=VAL)

    order: list[str] = []
    task, reflection = task_lm(), reflection_lm()
    task_respond, reflection_respond = task.engine.respond, reflection.engine.respond
    task.engine.respond = lambda call: order.append("task") or task_respond(call)
    reflection.engine.respond = lambda call: order.append("reflection") or reflection_respond(call)
    with dspy.context(lm=task):
        resumed = GEPA(metric=metric, max_metric_calls=80, reflection_lm=reflection, log_dir=str(tmp_path),
                       instruction_proposer=MultiModalInstructionProposer(), track_stats=True
                       ).compile(FruitProgram(), trainset=TRAIN, valset=VAL)
    assert order[0] == "reflection"  # the traces it reflected on came from the journal
    assert resumed.detailed_results.candidate_texts == reference.detailed_results.candidate_texts
    calls = reflection.engine.calls
    assert len(calls[0].images) == 3
    for call in calls:
        assert_parts_match_placeholders(call, labelled=True)
        assert_no_base64_text(call, list(IMAGES.values()))
        for expected, sent in image_of_each_placeholder(call, image_in):
            assert payload(sent) == payload(expected)
