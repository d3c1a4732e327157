"""The default reflective instruction proposer.

For each component to update, it shows the reflection LM the current instruction and the reflective
records (inputs, outputs, feedback) and asks for a better instruction — the reflective mutation of
GEPA (arXiv 2507.19457, Sec. 3.2), in our own words. Images in the records are sent as image parts,
referred to in the text as ``[IMAGE-k]``, never as base64 text. A reply that is empty, cut off by the
token limit or unparsable raises :class:`~dspy_gepa.exceptions.UnusableProposalError`, so the engine
never adopts it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import dspy
from dspy.adapters.types.base_type import Type
from dspy.utils.exceptions import AdapterParseError

from dspy_gepa.exceptions import UnusableProposalError
from dspy_gepa.lms import record_lm_calls

logger = logging.getLogger(__name__)


class ProposeInstruction(dspy.Signature):
    """You are improving the instruction that steers one step of an AI system. You are shown the current
    instruction and examples of the step at work: what it was given, what it produced, and feedback on
    the result.

    Work out from the examples what the task really is: the form of the inputs, what a good output looks
    like, and where the current instruction lets the step go wrong. Gather every concrete fact, rule and
    piece of domain knowledge the feedback reveals: the step will never see these examples, so whatever
    it needs must be written into the instruction. Keep what already works, and state general rules
    rather than answers for particular inputs.

    Reply with the complete new instruction, ready to use as it is."""

    current_instruction: str = dspy.InputField(desc="The instruction the step follows now.")
    examples_with_feedback: str = dspy.InputField(
        desc="Examples of the step: its inputs, the outputs it generated, and feedback on each.")
    new_instruction: str = dspy.OutputField(desc="The complete improved instruction.")


_FENCED = re.compile(r"^```[\w-]*\n(.*)\n```$", re.S)
# A data URI with a base64 payload (an image or file pasted into a text field): never shown as text.
_DATA_URI = re.compile(r"data:[\w.+-]+/[\w.+-]+;base64,[A-Za-z0-9+/=]+")

IMAGE_OMITTED = "[image omitted]"
IMAGE_LEFT_OUT = "[image left out]"


def _holds_type(value: Any) -> bool:
    if isinstance(value, Type):
        return True
    if isinstance(value, Mapping):
        return any(_holds_type(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_type(v) for v in value)
    return False


def _scrub(text: str) -> str:
    return _DATA_URI.sub(lambda m: f"[base64 data, {len(m.group(0)):,} characters, not shown]", text)


def _type_as_text(value: Type) -> str:
    """A non-image ``dspy.Type`` (code, tool calls, audio, files, ...) as text; binary payloads are not shown."""
    try:
        formatted = value.format()
    except Exception:
        return f"[{type(value).__name__}]"
    if isinstance(formatted, str):
        return formatted
    if isinstance(formatted, list):
        parts = []
        for part in formatted:
            kind = part.get("type") if isinstance(part, Mapping) else None
            parts.append(str(part.get("text", "")) if kind == "text" else f"[{kind or type(value).__name__} content not shown]")
        return "\n".join(parts)
    try:
        return json.dumps(formatted, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(formatted)


class RecordRenderer:
    """Renders reflective records as markdown and collects the images to attach.

    Every ``dspy.Image`` met (in record order, depth first through dicts and lists) becomes the next
    ``[IMAGE-k]`` and is appended to ``images``, so the k-th placeholder in the text is the k-th image
    attached. Images past ``max_images`` become ``[image left out]`` and, with ``include_images=False``,
    every image becomes ``[image omitted]``: a placeholder with a number always has an attached image.
    Other ``dspy.Type`` values are shown as text, and base64 data URIs are never shown as text.
    """

    def __init__(self, include_images: bool = True, max_images: int | None = None):
        self.include_images = include_images
        self.max_images = max_images
        self.images: list[dspy.Image] = []
        self.left_out = 0
        self.omitted = 0

    def render(self, records: Sequence[Mapping[str, Any]]) -> str:
        return "\n".join(f"# Example {i}\n{self._value(record, 2)}" for i, record in enumerate(records, 1))

    def _image(self, image: dspy.Image) -> str:
        if not self.include_images:
            self.omitted += 1
            return f"{IMAGE_OMITTED}\n"
        if self.max_images is not None and len(self.images) >= self.max_images:
            self.left_out += 1
            return f"{IMAGE_LEFT_OUT}\n"
        self.images.append(image)
        return f"[IMAGE-{len(self.images)}]\n"

    def _value(self, value: Any, depth: int) -> str:
        heading = "#" * min(depth, 6)
        if isinstance(value, dspy.Image):
            return self._image(value)
        if isinstance(value, Type):
            return f"{_scrub(_type_as_text(value).strip())}\n"
        if isinstance(value, Mapping):
            if not value:
                return "(none)\n"
            return "".join(f"{heading} {k}\n{self._value(v, depth + 1)}" for k, v in value.items())
        if isinstance(value, list | tuple) and _holds_type(value):
            if all(isinstance(v, dspy.Image) for v in value):
                return "".join(self._image(v) for v in value)
            return "".join(f"{heading} Item {i}\n{self._value(v, depth + 1)}" for i, v in enumerate(value, 1))
        return f"{_scrub(str(value).strip())}\n"


def render_records(records: Sequence[Mapping[str, Any]], images: list[dspy.Image] | None,
                   max_images: int | None = None) -> str:
    """Records as markdown; each attached image becomes ``[IMAGE-k]`` and is appended to ``images``
    (``images=None`` leaves every image out). See :class:`RecordRenderer`."""
    renderer = RecordRenderer(include_images=images is not None, max_images=max_images)
    text = renderer.render(records)
    if images is not None:
        images.extend(renderer.images)
    return text


class InstructionProposer:
    """Writes a new instruction per component with a DSPy signature on the reflection LM.

    Args:
        additional_instructions: Extra guidance appended to every request (e.g. "Write at most 200 words.").
        include_images: Send ``dspy.Image`` inputs to the reflection LM as image parts (default) or leave
            them out, which saves tokens.
        max_images: At most this many images per reflection call (the first ones in example order); the
            others are marked ``[image left out]`` in the text.
        signature: The DSPy signature to use; it must have the input fields ``current_instruction`` and
            ``examples_with_feedback`` and the output field ``new_instruction``.
    """

    def __init__(self, additional_instructions: str | None = None, *, include_images: bool = True,
                 max_images: int | None = None, signature: type[dspy.Signature] = ProposeInstruction):
        if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, int)
                                       or max_images < 0):
            raise ValueError(f"max_images must be a non-negative integer or None, not {max_images!r}")
        if additional_instructions is not None and not isinstance(additional_instructions, str):
            raise TypeError("additional_instructions must be a string or None")
        self.additional_instructions = (additional_instructions or "").strip() or None
        self.include_images = include_images
        self.max_images = max_images
        self.signature = signature
        if self.additional_instructions:
            self.signature = self.signature.with_instructions(
                f"{self.signature.instructions}\n\nAlso follow these requirements: {self.additional_instructions}")

    def __call__(self, candidate: dict[str, str], reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
                 components_to_update: list[str]) -> dict[str, str]:
        return {name: self.propose_one(candidate[name], reflective_dataset[name])
                for name in components_to_update if name in candidate and reflective_dataset.get(name)}

    def build_inputs(self, instruction: str, records: Sequence[Mapping[str, Any]]
                     ) -> tuple[type[dspy.Signature], dict[str, Any]]:
        """The signature and inputs of one reflection call: the records as text, their images attached."""
        renderer = RecordRenderer(self.include_images, self.max_images)
        text = renderer.render(records)
        if renderer.left_out:
            shown = len(renderer.images)
            text += (f"\n\n(Only the first {shown} of {shown + renderer.left_out} images are attached; the ones "
                     f"marked {IMAGE_LEFT_OUT} are not.)")
        if renderer.omitted:
            text += f"\n\n(The images in these examples, marked {IMAGE_OMITTED}, are not attached.)"
        logger.debug("Reflection on %d records: %d images attached, %d left out, %d omitted.", len(records),
                     len(renderer.images), renderer.left_out, renderer.omitted)
        inputs = {"current_instruction": instruction, "examples_with_feedback": text}
        if not renderer.images:
            return self.signature, inputs
        return self.attach_images(self.signature, inputs, renderer.images)

    def attach_images(self, signature: type[dspy.Signature], inputs: dict[str, Any], images: list[dspy.Image]
                      ) -> tuple[type[dspy.Signature], dict[str, Any]]:
        """Add ``images`` (the k-th is ``[IMAGE-k]``) to the call; here as one ``list[dspy.Image]`` field,
        which DSPy sends as image parts in list order."""
        signature = signature.append("images", dspy.InputField(
            desc="The images referred to as [IMAGE-1], [IMAGE-2], ... in the examples, in that order."),
            type_=list[dspy.Image])
        return signature, {**inputs, "images": list(images)}

    def propose_one(self, instruction: str, records: Sequence[Mapping[str, Any]]) -> str:
        signature, inputs = self.build_inputs(instruction, records)
        predictor = dspy.Predict(signature)
        with record_lm_calls() as calls:
            try:
                reply = predictor(**inputs)
            except AdapterParseError as exc:
                raise UnusableProposalError(f"the reflection LM's reply could not be parsed: {exc}") from exc
        if "length" in calls.finish_reasons():
            raise UnusableProposalError(
                "the reflection LM's reply was cut off by its token limit (finish_reason='length'); give the "
                "reflection LM a larger max_tokens")
        text = (reply.new_instruction or "").strip() if isinstance(reply.new_instruction, str | None) \
            else str(reply.new_instruction).strip()
        fenced = _FENCED.match(text)
        if fenced:
            text = fenced.group(1).strip()
        if not text:
            raise UnusableProposalError("the reflection LM returned an empty instruction")
        return text
