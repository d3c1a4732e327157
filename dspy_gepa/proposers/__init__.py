"""Instruction proposers: callables ``(candidate, reflective_dataset, components_to_update) -> {name: text}``
run by the engine with the reflection LM as DSPy's current LM."""

from dspy_gepa.proposers.instruction import InstructionProposer, ProposeInstruction, render_records

__all__ = ["InstructionProposer", "ProposeInstruction", "render_records"]
