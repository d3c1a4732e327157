"""The default reflective instruction proposer.

For each component to update, it shows the reflection LM the current instruction and the reflective
records (inputs, outputs, feedback) and asks for a better instruction — the reflective mutation of
GEPA (arXiv 2507.19457, Sec. 3.2), in our own words. Images in the records are sent as image parts,
referred to in the text as ``[IMAGE-k]``, never as base64 text. A reply that is empty, cut off by the
token limit or unparsable raises :class:`~dspy_gepa.exceptions.UnusableProposalError`, so the engine
never adopts it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import dspy
from dspy.adapters.types.base_type import Type
from dspy.utils.exceptions import AdapterParseError

from dspy_gepa.dspy_adapter.lm_calls import record_lm_calls
from dspy_gepa.exceptions import UnusableProposalError


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


def render_records(records: Sequence[Mapping[str, Any]], images: list[Type] | None) -> str:
    """Records as markdown; each image value becomes ``[IMAGE-k]`` and is appended to ``images``."""

    def render(value: Any, depth: int) -> str:
        if isinstance(value, Type):
            if images is None:
                return "[image omitted]\n"
            images.append(value)
            return f"[IMAGE-{len(images)}]\n"
        if isinstance(value, Mapping):
            if not value:
                return "(none)\n"
            heading = "#" * min(depth, 6)
            return "".join(f"{heading} {k}\n{render(v, depth + 1)}" for k, v in value.items())
        if isinstance(value, list | tuple) and any(isinstance(v, Type) for v in value):
            return "".join(render(v, depth) for v in value)
        return f"{str(value).strip()}\n"

    parts = [f"# Example {i}\n{render(record, 2)}" for i, record in enumerate(records, 1)]
    return "\n".join(parts)


class InstructionProposer:
    """Writes a new instruction per component with a DSPy signature on the reflection LM.

    Args:
        additional_instructions: Extra guidance appended to every request (e.g. "Write at most 200 words.").
        include_images: Send ``dspy.Image`` inputs to the reflection LM as image parts (default) or leave
            them out, which saves tokens.
        max_images: At most this many images per reflection call (the first ones in example order).
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
        images: list[Type] | None = [] if self.include_images else None
        text = render_records(records, images)
        signature, inputs = self.signature, {"current_instruction": instruction, "examples_with_feedback": text}
        if images:
            kept = images if self.max_images is None else images[: self.max_images]
            if len(kept) < len(images):
                inputs["examples_with_feedback"] += (f"\n(Only the first {len(kept)} of {len(images)} images are "
                                                     "attached; the others are left out.)")
            if kept:
                signature = signature.append("images", dspy.InputField(
                    desc="The images referred to as [IMAGE-1], [IMAGE-2], ... in the examples, in that order."),
                    type_=list[dspy.Image])
                inputs["images"] = kept
        return signature, inputs

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
