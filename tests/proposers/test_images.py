"""Images in reflection requests: placeholders, image parts, their order, and no base64 in any text.

Checked for both proposers: ``InstructionProposer`` (images in one list field) and
``MultiModalInstructionProposer`` (one field ``image_k`` per image).
"""

import re

import dspy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dspy_gepa import InstructionProposer, MultiModalInstructionProposer
from dspy_gepa.dspy_adapter.reflective import ReflectionLimits, reflect_value
from dspy_gepa.proposers import render_records
from dspy_gepa.testing import png_color, png_data_uri, scripted_lm

from ..image_task import assert_no_base64_text, assert_parts_match_placeholders, examples_text, payload, placeholders

PROPOSERS = [pytest.param(InstructionProposer, False, id="default"),
             pytest.param(MultiModalInstructionProposer, True, id="multimodal")]


def image(i: int) -> dspy.Image:
    """Image ``i`` is recognisable from its pixels: color (i, 2i, 3i) mod 256."""
    return dspy.Image(png_data_uri((i % 256, 2 * i % 256, 3 * i % 256), size=2))


def index_of(part) -> int:
    return png_color(part)[0]


def propose(proposer, records, reply="New."):
    lm = scripted_lm(lambda call: {"new_instruction": reply})
    with dspy.context(lm=lm):
        out = proposer({"step": "Old."}, {"step": records}, ["step"])
    assert out == {"step": reply}
    assert len(lm.engine.calls) == 1
    return lm.engine.calls[0]


def slots(text: str) -> dict[str, list[int]]:
    """Heading ``slot-i`` -> the placeholder numbers on the lines right under it."""
    found: dict[str, list[int]] = {}
    key = None
    for line in text.splitlines():
        heading = re.match(r"#+ (slot-\d+)$", line)
        if heading:
            key = heading.group(1)
            found[key] = []
        elif key and re.fullmatch(r"\[IMAGE-\d+\]|\[image left out\]|\[image omitted\]", line):
            found[key].extend(placeholders(line) or [0])
        else:
            key = None
    return found


def nested_records():
    """Several records; an image alone, a list of images in one field, images in nested dicts and in a
    list of dicts, a tuple, and an empty list. Image ``i`` sits under the heading ``slot-i`` (a list under
    the heading of its first image)."""
    return [
        {"Inputs": {"slot-1": image(1), "question": "what?", "slot-2": [image(2), image(3), image(4)]},
         "Generated Outputs": {"answer": "a dog"}, "Feedback": "It is a cat."},
        {"Inputs": {"page": {"slot-5": image(5), "meta": {"slot-6": image(6), "n": 3}}, "none": []},
         "Generated Outputs": {"answer": "x"}, "Feedback": "no"},
        {"Inputs": {"pages": [{"slot-7": image(7), "caption": "first"}, {"slot-8": (image(8), image(9))}]},
         "Generated Outputs": "The reply could not be parsed.", "Feedback": "Format error."},
    ]


@pytest.mark.parametrize("proposer_cls,labelled", PROPOSERS)
def test_placeholders_number_image_parts_in_sending_order(proposer_cls, labelled):
    call = propose(proposer_cls(), nested_records())
    text = examples_text(call)
    assert_parts_match_placeholders(call, labelled)
    assert len(call.images) == 9
    # The part sent for [IMAGE-k] is the image written where [IMAGE-k] stands in the text.
    for slot, numbers in slots(text).items():
        first = int(slot.split("-")[1])
        assert [index_of(call.images[k - 1]) for k in numbers] == list(range(first, first + len(numbers)))
    assert [index_of(p) for p in call.images] == list(range(1, 10))
    assert "caption" in text and "first" in text and "Item 2" in text
    assert_no_base64_text(call, [image(i) for i in range(1, 10)])


@pytest.mark.parametrize("proposer_cls,labelled", PROPOSERS)
def test_max_images_attaches_the_first_ones_and_marks_the_rest_left_out(proposer_cls, labelled):
    call = propose(proposer_cls(max_images=4), nested_records())
    text = examples_text(call)
    assert_parts_match_placeholders(call, labelled)
    assert [index_of(p) for p in call.images] == [1, 2, 3, 4]
    assert placeholders(text) == [1, 2, 3, 4]
    assert text.splitlines().count("[image left out]") == 5
    assert slots(text)["slot-5"] == [0] and slots(text)["slot-8"] == [0, 0]
    assert "Only the first 4 of 9 images are attached" in text

    call = propose(proposer_cls(max_images=0), nested_records())
    assert call.images == [] and placeholders(examples_text(call)) == []
    assert "[[ ## image_1 ## ]]" not in call.system and "[[ ## images ## ]]" not in call.system


@pytest.mark.parametrize("proposer_cls,labelled", PROPOSERS)
def test_include_images_false_sends_no_image(proposer_cls, labelled):
    call = propose(proposer_cls(include_images=False), nested_records())
    text = examples_text(call)
    assert call.images == [] and placeholders(text) == []
    assert text.splitlines().count("[image omitted]") == 9 and "are not attached" in text
    assert_no_base64_text(call, [image(i) for i in range(1, 10)])


@pytest.mark.parametrize("proposer_cls,labelled", PROPOSERS)
def test_records_without_images_send_none(proposer_cls, labelled):
    call = propose(proposer_cls(), [{"Inputs": {"q": "2+2"}, "Generated Outputs": {"a": "5"}, "Feedback": "4"}])
    assert call.images == [] and "IMAGE" not in examples_text(call) and "not attached" not in examples_text(call)


@pytest.mark.parametrize("adapter", [dspy.ChatAdapter(), dspy.JSONAdapter()], ids=["chat", "json"])
def test_images_are_parts_whatever_the_configured_adapter(adapter):
    with dspy.context(adapter=adapter):
        call = propose(MultiModalInstructionProposer(), nested_records()[:1])
    assert [index_of(p) for p in call.images] == [1, 2, 3, 4]
    assert_no_base64_text(call, [image(i) for i in range(1, 5)])


def test_other_dspy_types_are_text_not_images():
    """Base-class fix: every dspy.Type used to become an [IMAGE-k] and be pushed into the list[dspy.Image]
    field (code, tool calls, audio); now only dspy.Image is attached and the others are shown as text."""
    records = [{"Inputs": {"code": dspy.Code["python"](code="print(42)"), "pic": image(1),
                           "clip": dspy.Audio(data="UklGRiQAAABXQVZFZm10IBAAAAABAAEAESsAACJWAAACABAAZGF0YQAAAAA=",
                                              audio_format="wav")},
                "Generated Outputs": {"calls": dspy.ToolCalls.from_dict_list([{"name": "lookup", "args": {"k": 1}}])},
                "Feedback": "Wrong tool."}]
    for proposer in (InstructionProposer(), MultiModalInstructionProposer()):
        call = propose(proposer, records)
        text = examples_text(call)
        assert placeholders(text) == [1] and [index_of(p) for p in call.images] == [1]
        assert "print(42)" in text and "lookup" in text and "[input_audio content not shown]" in text
        assert "UklGRiQ" not in "".join(m for _, m in call.messages)


def test_data_uris_in_text_fields_are_not_shown():
    uri = png_data_uri((1, 2, 3), size=6)
    text = render_records([{"Inputs": {"image_as_text": uri, "note": f"see {uri} here"}, "Feedback": "x"}], [])
    assert ";base64," not in text and payload(dspy.Image(uri))[:20] not in text
    assert "[base64 data, " in text and "see [base64 data" in text


def test_render_records_keeps_its_contract():
    images: list = []
    text = render_records(nested_records(), images, max_images=2)
    assert [png_color(i)[0] for i in images] == [1, 2] and placeholders(text) == [1, 2]
    assert render_records(nested_records(), None).count("[image omitted]") == 9


def test_images_in_conversation_history_are_attached_not_printed():
    """Adapter fix: a dspy.History whose turns hold images used to be printed with str(), which writes the
    whole base64 data URI into the reflection prompt."""
    history = dspy.History(messages=[{"question": "What is this?", "photo": image(1), "answer": "A cat."},
                                     {"question": "And this?", "photo": image(2), "answer": "A dog."}])
    value = reflect_value(history, ReflectionLimits())
    assert value["Turn 1"]["photo"] == image(1) and value["Turn 2"]["answer"] == "A dog."
    records = [{"Inputs": {"history": value, "question": "Which is bigger?"}, "Generated Outputs": {"answer": "cat"},
                "Feedback": "The dog is bigger."}]
    call = propose(MultiModalInstructionProposer(), records)
    assert [index_of(p) for p in call.images] == [1, 2]
    assert "Turn 2" in examples_text(call)
    assert_no_base64_text(call, [image(1), image(2)])
    text_only = dspy.History(messages=[{"question": "hi", "answer": "hello"}])
    assert reflect_value(text_only, ReflectionLimits()).startswith("Earlier turns of the conversation:")


# A random nesting of dicts, lists and text with images: placeholders always match the parts sent.
_leaf = st.one_of(st.integers(1, 250).map(lambda i: ("img", i)), st.text("abc xyz", max_size=5))
_tree = st.recursive(_leaf, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                    st.dictionaries(st.sampled_from("pqrs"), kids, max_size=3)),
                     max_leaves=12)


def _build(tree, counter):
    if isinstance(tree, tuple):
        counter.append(tree[1])
        return image(tree[1])
    if isinstance(tree, list):
        return [_build(t, counter) for t in tree]
    if isinstance(tree, dict):
        return {k: _build(v, counter) for k, v in tree.items()}
    return tree


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(trees=st.lists(_tree, min_size=1, max_size=3), max_images=st.one_of(st.none(), st.integers(0, 4)),
       multimodal=st.booleans())
def test_any_nesting_placeholders_match_parts(trees, max_images, multimodal):
    order: list[int] = []
    records = [{"Inputs": {"x": _build(tree, order)}, "Generated Outputs": {"y": "z"}, "Feedback": "f"}
               for tree in trees]
    cls = MultiModalInstructionProposer if multimodal else InstructionProposer
    call = propose(cls(max_images=max_images), records)
    kept = order if max_images is None else order[:max_images]
    assert_parts_match_placeholders(call, labelled=multimodal)
    assert [index_of(p) for p in call.images] == kept
    assert examples_text(call).splitlines().count("[image left out]") == len(order) - len(kept)
    assert_no_base64_text(call, [image(i) for i in order])


def test_url_images_are_sent_as_url_parts():
    records = [{"Inputs": {"page": dspy.Image("https://example.com/page-1.png"), "also": image(3)},
                "Generated Outputs": {"a": "b"}, "Feedback": "f"}]
    call = propose(MultiModalInstructionProposer(), records)
    assert [p.url for p in call.images] == ["https://example.com/page-1.png", None]
    assert index_of(call.images[1]) == 3 and placeholders(examples_text(call)) == [1, 2]
