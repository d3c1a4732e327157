"""The rule language shared by the scripted tasks, their metrics and the fake LMs.

An instruction for one pipeline step is plain text that holds a ``STEP: <name>`` line followed by
rule lines ``RULE[<key>]: answer <value>``. Feedback reveals missing rules as hint lines
``HINT[<step>]: RULE[<key>]: answer <value>``. Everything here is found by regular expressions over
the whole prompt, so it survives any rendering (chat sections, JSON strings with escaped newlines,
YAML, indentation) and any wording of the surrounding prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

WORD = r"[a-z0-9_]+"
_TOKEN = re.compile(
    rf"STEP:\s*(?P<step>{WORD})"
    r"|TASK:\s*(?P<task>[A-Za-z0-9 ,;'-]+\.)"
    rf"|HINT\[(?P<hint_step>{WORD})\]:\s*RULE\[(?P<hint_key>{WORD})\]:\s*answer\s+(?P<hint_value>{WORD})"
    rf"|RULE\[(?P<key>{WORD})\]:\s*answer\s+(?P<value>{WORD})"
)

NO_RULE_ANSWER = "unknown"


def rule_line(key: str, value: str) -> str:
    return f"RULE[{key}]: answer {value}"


def hint_line(step: str, key: str, value: str) -> str:
    return f"HINT[{step}]: {rule_line(key, value)}"


def make_instruction(step: str, task: str, rules: dict[str, str]) -> str:
    """The canonical instruction text: step tag, one task sentence, one rule per line."""
    lines = [f"STEP: {step}", f"TASK: {task}"]
    lines += [rule_line(k, v) for k, v in rules.items()]
    return "\n".join(lines)


@dataclass
class ParsedPrompt:
    """Rules per step (first occurrence of a key wins, in order), hints per step, task sentence per step."""

    rules: dict[str | None, dict[str, str]] = field(default_factory=dict)
    hints: dict[str, dict[str, str]] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    tasks: dict[str | None, str] = field(default_factory=dict)


def parse(text: str) -> ParsedPrompt:
    """Scan ``text`` in order: a rule belongs to the last ``STEP:`` seen before it (None if none)."""
    out = ParsedPrompt()
    step: str | None = None
    for m in _TOKEN.finditer(text):
        if m.group("step"):
            step = m.group("step")
            if step not in out.steps:
                out.steps.append(step)
        elif m.group("task"):
            out.tasks.setdefault(step, m.group("task"))
        elif m.group("hint_step"):
            out.hints.setdefault(m.group("hint_step"), {}).setdefault(m.group("hint_key"), m.group("hint_value"))
        else:
            out.rules.setdefault(step, {}).setdefault(m.group("key"), m.group("value"))
    return out


def rules_in(text: str, limit: int | None = None) -> dict[str, str]:
    """All non-hint rules of ``text`` regardless of step, at most ``limit`` (the first ones)."""
    found: dict[str, str] = {}
    n = 0
    for m in _TOKEN.finditer(text):
        if m.group("key"):
            n += 1
            if limit is not None and n > limit:
                break
            found.setdefault(m.group("key"), m.group("value"))
    return found


def apply_rules(rules: dict[str, str], text: str) -> str:
    """The value of the first rule (in instruction order) whose key occurs as a word of ``text``."""
    words = set(re.findall(WORD, text.lower()))
    for key, value in rules.items():
        if key in words:
            return value
    return NO_RULE_ANSWER
