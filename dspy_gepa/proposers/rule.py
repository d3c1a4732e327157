"""A reflective proposer for small reflection LMs: one rule at a time, from the feedback quoted.

The default :class:`~dspy_gepa.proposers.InstructionProposer` asks the reflection LM to study examples and
rewrite the whole instruction: right for capable models, too much for a local 1-8B model, and a 135M model
only echoes a line of the request back. :class:`RuleProposer` asks for much less: it quotes the metric's
feedback, and asks for the one rule the feedback says the step should follow, in one sentence. The rule is
then added to the current instruction, which is otherwise kept word for word, so a small model can neither
lose what already works nor write a whole instruction badly; GEPA's minibatch check decides whether the rule
helps. Feedback that states the convention a wrong answer missed ("The label must be one word: 'positive'
or 'negative'.") is what such a model can turn into a rule.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import dspy
from dspy.utils.exceptions import AdapterParseError

from dspy_gepa.exceptions import UnusableProposalError
from dspy_gepa.lms import record_lm_calls

logger = logging.getLogger(__name__)

__all__ = ["ProposeRule", "RuleProposer"]


class ProposeRule(dspy.Signature):
    """The feedback below says how an assistant should answer. Write the rule it states as one sentence for the
    assistant."""

    instruction: str = dspy.InputField(desc="the assistant's instruction now")
    feedback: str = dspy.InputField(desc="feedback on the assistant's answers")
    rule: str = dspy.OutputField(desc="one rule, one sentence")


class RuleProposer:
    """Proposes a new instruction by adding one rule, written by the reflection LM from the quoted feedback.

    Made for small reflection LMs (a local 1-8B model, or the demo's 135M one); with a capable reflection LM
    the default :class:`~dspy_gepa.proposers.InstructionProposer`, which rewrites the whole instruction, is
    the better choice.

    Args:
        position: Where the rule goes: ``"start"`` (default; small task models follow the first line of
            their instruction best) or ``"end"`` of the current instruction.
        max_feedback: At most this many distinct feedback texts are quoted (the first ones, in record order).
        max_feedback_chars: Each quoted feedback text is cut to this many characters.
        max_rule_chars: A reply longer than this is not a rule: it is never adopted.
        signature: The DSPy signature to use; it must have the input fields ``instruction`` and ``feedback``
            and the output field ``rule``.

    A reply that is empty, cut off by the token limit, unparsable or too long raises
    :class:`~dspy_gepa.exceptions.UnusableProposalError`; a rule the instruction already holds returns the
    instruction unchanged (GEPA counts that as an idle proposal, not a failure).
    """

    def __init__(self, *, position: Literal["start", "end"] = "start", max_feedback: int = 5,
                 max_feedback_chars: int = 600, max_rule_chars: int = 400,
                 signature: type[dspy.Signature] = ProposeRule):
        if position not in ("start", "end"):
            raise ValueError(f"position must be 'start' or 'end', not {position!r}")
        for name, value in (("max_feedback", max_feedback), ("max_feedback_chars", max_feedback_chars),
                            ("max_rule_chars", max_rule_chars)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        self.position = position
        self.max_feedback = max_feedback
        self.max_feedback_chars = max_feedback_chars
        self.max_rule_chars = max_rule_chars
        self.signature = signature

    def __call__(self, candidate: dict[str, str], reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
                 components_to_update: list[str]) -> dict[str, str]:
        return {name: self.propose_one(candidate[name], reflective_dataset[name])
                for name in components_to_update if name in candidate and reflective_dataset.get(name)}

    def quote_feedback(self, records: Sequence[Mapping[str, Any]]) -> str:
        """The records' feedback as a list of quoted lines: distinct texts only, at most ``max_feedback``."""
        texts: list[str] = []
        for record in records:
            text = " ".join(str(record.get("Feedback") or "").split())
            if len(text) > self.max_feedback_chars:
                text = text[: self.max_feedback_chars - 1] + "…"
            if text and text not in texts:
                texts.append(text)
            if len(texts) == self.max_feedback:
                break
        return "\n".join(f'- "{text}"' for text in texts)

    def propose_one(self, instruction: str, records: Sequence[Mapping[str, Any]]) -> str:
        feedback = self.quote_feedback(records)
        if not feedback:
            raise UnusableProposalError("the reflective records hold no feedback to write a rule from")
        with record_lm_calls() as calls:
            try:
                reply = dspy.Predict(self.signature)(instruction=instruction, feedback=feedback)
            except AdapterParseError as exc:
                raise UnusableProposalError(f"the reflection LM's reply could not be parsed: {exc}") from exc
        if "length" in calls.finish_reasons():
            raise UnusableProposalError("the reflection LM's rule was cut off by its token limit "
                                        "(finish_reason='length'); give the reflection LM a larger max_tokens")
        rule = " ".join(str(reply.rule or "").split()).removeprefix("- ")
        if len(rule) > 2 and rule[0] == rule[-1] and rule[0] in "\"'":
            rule = rule[1:-1].strip()
        if not rule:
            raise UnusableProposalError("the reflection LM returned an empty rule")
        if len(rule) > self.max_rule_chars:
            raise UnusableProposalError(f"the reflection LM's rule has {len(rule)} characters, more than "
                                        f"max_rule_chars={self.max_rule_chars}: it is not one rule")
        if rule in instruction:
            logger.debug("The proposed rule is already in the instruction: %s", rule)
            return instruction
        current = instruction.strip()
        return f"{rule}\n{current}" if self.position == "start" else f"{current}\n{rule}"
