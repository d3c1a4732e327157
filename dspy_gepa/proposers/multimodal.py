"""The multimodal instruction proposer: reflection that looks at the images.

For programs whose inputs include ``dspy.Image`` (document extraction, charts, screenshots, photos), it
asks the reflection LM to compare what the step said about each image with what the image shows and
with the feedback, and to write visual-analysis guidance into the new instruction where the feedback
shows visual mistakes. Rendering, image placeholders, ``include_images`` / ``max_images`` and the checks
on the reply are those of :class:`~dspy_gepa.proposers.instruction.InstructionProposer`; what differs is
the request's wording and that each image is attached as its own input field named after its
placeholder (``[IMAGE-3]`` arrives right after the header ``image_3``), so the reflection LM never has to
count its way through a list to know which image a placeholder means.
"""

from __future__ import annotations

from typing import Any

import dspy

from dspy_gepa.proposers.instruction import InstructionProposer


class ProposeMultimodalInstruction(dspy.Signature):
    """You are improving the instruction that steers one step of an AI system working on images (photos,
    scanned documents, charts, screenshots and the like) together with text. You are shown the current
    instruction and examples of the step at work: what it was given, what it produced, and feedback on the
    result. In the examples each attached image is written as a placeholder [IMAGE-k] and is given to you
    as the input field image_k; an image marked as omitted or left out is not attached.

    Look at every attached image next to the example it belongs to. Compare what the step said about the
    image with what the image actually shows and with the feedback, and name the images by their
    placeholders as you work. Decide for each mistake whether it is visual (something in the image was
    missed, misread, miscounted, misplaced or made up: printed text, numbers, colors, shapes, positions,
    layout, chart axes and values, small details) or lies elsewhere (reasoning, output format, missing
    domain knowledge).

    Then write the new instruction; the step will never see these examples. Where the feedback shows
    visual mistakes, include concrete visual-analysis guidance: which parts and features of the image to
    inspect and in what order, how to read text, numbers or values from it, which visual cues decide the
    answer, and what to double-check before answering. Also write in every rule and piece of domain
    knowledge the feedback reveals. Keep what already works, state general rules rather than answers for
    particular images, and do not mention the placeholders or these examples.

    Reply with the complete new instruction, ready to use as it is."""

    current_instruction: str = dspy.InputField(desc="The instruction the step follows now.")
    examples_with_feedback: str = dspy.InputField(
        desc="Examples of the step: its inputs (images shown as [IMAGE-k]), the outputs it generated, and feedback "
             "on each.")
    new_instruction: str = dspy.OutputField(
        desc="The complete improved instruction, with visual-analysis guidance where the feedback shows visual "
             "mistakes.")


class MultiModalInstructionProposer(InstructionProposer):
    """Writes a new instruction per component, looking at the images in the reflective records.

    Use it as ``GEPA(..., instruction_proposer=MultiModalInstructionProposer())`` for programs with
    ``dspy.Image`` inputs. Each image in the records (also in lists, nested dicts and conversation
    history) reaches the reflection LM as an image part, in the order of its placeholder ``[IMAGE-k]``
    in the text, and never as base64 text. The reflection LM must accept images unless
    ``include_images=False``.

    Args:
        additional_instructions: Extra guidance appended to every request (e.g. "Write at most 200 words.").
        include_images: Attach the images (default). ``False`` leaves every image out, marked
            ``[image omitted]`` in the text, to save tokens or to use a text-only reflection LM.
        max_images: At most this many images per reflection call, the first ones in example order; the
            others are marked ``[image left out]``. ``None`` (default) attaches them all.
        signature: The DSPy signature of the request; it must have the input fields
            ``current_instruction`` and ``examples_with_feedback`` and the output field ``new_instruction``.
    """

    def __init__(self, additional_instructions: str | None = None, *, include_images: bool = True,
                 max_images: int | None = None, signature: type[dspy.Signature] = ProposeMultimodalInstruction):
        super().__init__(additional_instructions, include_images=include_images, max_images=max_images,
                         signature=signature)

    def attach_images(self, signature: type[dspy.Signature], inputs: dict[str, Any], images: list[dspy.Image]
                      ) -> tuple[type[dspy.Signature], dict[str, Any]]:
        """One input field ``image_k`` per image, in placeholder order."""
        inputs = dict(inputs)
        taken = [f"image_{k}" for k in range(1, len(images) + 1) if f"image_{k}" in signature.fields]
        if taken:
            raise ValueError(f"the signature {signature.__name__} already has fields {taken}; "
                             "MultiModalInstructionProposer adds one field image_k per attached image")
        for k, image in enumerate(images, 1):
            signature = signature.append(f"image_{k}", dspy.InputField(desc=f"The image shown as [IMAGE-{k}]."),
                                         type_=dspy.Image)
            inputs[f"image_{k}"] = image
        return signature, inputs
