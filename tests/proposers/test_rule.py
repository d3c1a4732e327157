"""RuleProposer: one rule from the quoted feedback, added to the instruction; unusable replies never adopted."""

import dspy
import pytest

from dspy_gepa import GEPA, RuleProposer, UnusableProposalError
from dspy_gepa.testing import ScriptedReply, scripted_lm

from ..helpers import TwoStep, metric, split, task_lm

RECORDS = [
    {"Inputs": {"word": "apple"}, "Generated Outputs": {"color": "unknown"}, "Feedback": "Wrong. Add the rule 'apple => red'."},
    {"Inputs": {"word": "kiwi"}, "Generated Outputs": {"color": "green"}, "Feedback": "Correct."},
    {"Inputs": {"word": "lemon"}, "Generated Outputs": {"color": "unknown"}, "Feedback": "Wrong. Add the rule 'apple => red'."},
]


def propose(reply, proposer=None, records=RECORDS, instruction="Name the color."):
    lm = scripted_lm(lambda call: reply(call) if callable(reply) else reply)
    with dspy.context(lm=lm):
        out = (proposer or RuleProposer())({"self": instruction}, {"self": records}, ["self"])
    return out["self"], lm.engine.calls


def test_the_rule_goes_first_and_the_instruction_is_kept_word_for_word():
    text, calls = propose({"rule": "apple => red"})
    assert text == "apple => red\nName the color."
    assert propose({"rule": "apple => red"}, RuleProposer(position="end"))[0] == "Name the color.\napple => red"
    (call,) = calls
    assert call.field("instruction") == "Name the color."
    # The feedback is quoted, each distinct text once, in record order; inputs and outputs are not shown.
    assert call.field("feedback") == '- "Wrong. Add the rule \'apple => red\'."\n- "Correct."'
    assert "kiwi" not in call.prompt and "rule" in call.system.lower()


def test_feedback_is_bounded():
    records = [{"Feedback": f"Rule {i}: " + "x" * 50} for i in range(9)]
    _, (call,) = propose({"rule": "r"}, RuleProposer(max_feedback=3, max_feedback_chars=20), records)
    lines = call.field("feedback").splitlines()
    assert len(lines) == 3 and all(len(line) == len('- ""') + 20 for line in lines) and lines[0].endswith('…"')


def test_quotes_around_the_rule_are_dropped_and_a_known_rule_changes_nothing():
    assert propose({"rule": '"Answer in one word."'})[0] == "Answer in one word.\nName the color."
    assert propose({"rule": "Say 'red' or 'green'"})[0] == "Say 'red' or 'green'\nName the color."
    # A rule the instruction already holds: the instruction comes back unchanged (an idle proposal for GEPA).
    assert propose({"rule": "Name the color."})[0] == "Name the color."


@pytest.mark.parametrize("reply,match", [
    (ScriptedReply('{"rule": "Always say', finish_reason="length"), "cut off"),
    ({"rule": "  "}, "empty"),
    ({"rule": "word " * 100}, "not one rule"),
    ("no fields at all", "could not be parsed"),
])
def test_unusable_replies_are_never_adopted(reply, match):
    with pytest.raises(UnusableProposalError, match=match):
        propose(reply)


def test_records_without_feedback_are_unusable():
    with pytest.raises(UnusableProposalError, match="no feedback"):
        propose({"rule": "x"}, records=[{"Inputs": {}, "Generated Outputs": {}, "Feedback": ""}])


@pytest.mark.parametrize("kwargs", [{"position": "middle"}, {"max_feedback": 0}, {"max_rule_chars": True}])
def test_bad_options_are_refused(kwargs):
    with pytest.raises(ValueError):
        RuleProposer(**kwargs)


def test_gepa_learns_rules_one_at_a_time():
    """With GEPA: a reflection LM that copies the rule the first feedback line states improves the program."""
    def copy_rule(call):
        first = call.field("feedback").splitlines()[0]
        return {"rule": first.split("'")[1] if "'" in first else "No rule."}

    train, val = split()
    with dspy.context(lm=task_lm()):
        result = GEPA(metric=metric, max_metric_calls=150, reflection_lm=scripted_lm(copy_rule, "scripted/rules"),
                      instruction_proposer=RuleProposer(), track_stats=True).compile(
            TwoStep(), trainset=train, valset=val).detailed_results
    best = result.val_aggregate_scores[result.best_idx]
    assert best > result.val_aggregate_scores[0]
    assert any("=>" in text.splitlines()[0] for text in result.candidate_texts[result.best_idx].values())
