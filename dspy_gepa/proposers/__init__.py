"""Proposers: callables ``(candidate, reflective_dataset, components_to_update) -> {name: text}`` run by the
engine with the reflection LM as DSPy's current LM (instructions), and the proposer of ``dspy.Flex`` code."""

from dspy_gepa.proposers.code import CodeProposer, ReviseModuleSource
from dspy_gepa.proposers.instruction import InstructionProposer, ProposeInstruction, RecordRenderer, render_records
from dspy_gepa.proposers.multimodal import MultiModalInstructionProposer, ProposeMultimodalInstruction

__all__ = ["CodeProposer", "InstructionProposer", "ReviseModuleSource", "MultiModalInstructionProposer", "ProposeInstruction", "ProposeMultimodalInstruction",
           "RecordRenderer", "render_records"]
