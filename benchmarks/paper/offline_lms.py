"""Scripted (offline, deterministic) LMs for running the paper tasks without a provider.

``scripted_task_lm()`` plays every role a task needs — the program's predictors, PUPA's untrusted LM and judge —
with plausible, cheap heuristics read from the prompt (it copies from the passages, echoes the question, keeps
the draft). ``scripted_reflection_lm()`` plays GEPA's reflection LM: it returns the current instruction with a
hint appended, fenced in a code block as GEPA expects. These exist so the CLI and the tests run end to end with
no network; their scores mean nothing about real models.
"""

from __future__ import annotations

import re

import dspy

from dspy_gepa.testing import ScriptedCall, scripted_lm

__all__ = ["scripted_reflection_lm", "scripted_task_lm", "task_reply"]

_OUTPUTS = re.compile(r"Your output fields are:\n(.*?)\n(?:All interactions|\n)", re.S)
_FIELD_NAME = re.compile(r"^\d+\. `(\w+)`", re.M)
_CAPITALIZED = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")


def _output_fields(call: ScriptedCall) -> list[str]:
    m = _OUTPUTS.search(call.system)
    return _FIELD_NAME.findall(m.group(1)) if m else []


def _first_passage(call: ScriptedCall) -> str:
    raw = call.field("passages") or ""
    m = re.search(r'"([^"|]+) \| ', raw)  # passages arrive as a JSON list of "title | text"
    return m.group(1) if m else raw[:80]


def _answer(call: ScriptedCall) -> str:
    """A short span from the summaries that is not in the question: a plausible (usually wrong) factoid."""
    question = call.field("question") or ""
    for text in (call.field("summary_2") or "", call.field("summary_1") or ""):
        for span in _CAPITALIZED.findall(text.replace("The passages mention", "")):
            if span not in question and len(span) > 2:
                return span
    return "unknown"


def task_reply(call: ScriptedCall) -> dict | str:
    fields = _output_fields(call)
    if not fields:  # a raw LM call: PUPA's untrusted LM
        return f"Here is a general answer to the request: {call.last_user_text[:200]}"
    out: dict[str, object] = {}
    for name in fields:
        if name == "reasoning":
            out[name] = "Scripted reasoning."
        elif name == "summary":
            out[name] = f"The passages mention {_first_passage(call)}."
        elif name == "query":
            question = call.field("question") or call.field("claim") or ""
            out[name] = f"{question} {call.field('summary_1') or ''}".strip()[:300]
        elif name == "answer":
            out[name] = _answer(call)
        elif name == "response" and call.field("draft_response") is not None:
            out[name] = call.field("draft_response")
        elif name == "response" and call.field("related_llm_response") is not None:
            out[name] = f"Based on what I found: {call.field('related_llm_response')[:300]}"
        elif name == "response":
            out[name] = f"Here is my answer to: {(call.field('prompt') or '')[:120]}"
        elif name == "llm_request":
            query = call.field("user_query") or ""
            out[name] = f"Please help with a task of this kind: {' '.join(query.split()[:12])}"
        elif name == "judgment":
            a, b = call.field("response_a") or "", call.field("response_b") or ""
            out[name] = len(a) >= len(b) // 4
        elif name == "num_pii_leaked":
            units = re.findall(r'"((?:[^"\\]|\\.)*)"', call.field("pii_units") or "")
            prompt = (call.field("prompt") or "").lower()
            out[name] = sum(1 for u in units if u and u.lower() in prompt)
        else:
            out[name] = f"scripted {name}"
    return out


def scripted_task_lm(model: str = "scripted/task") -> dspy.LM:
    """A scripted ``dspy.LM`` that can play every role of the four paper tasks."""
    return scripted_lm(task_reply, model=model)


def _reflection_reply(call: ScriptedCall) -> dict | str:
    hint = f"Be precise and follow every requirement of the task. (revision {call.index + 1})"
    fields = [f for f in _output_fields(call) if f != "reasoning"]
    if fields:  # a structured proposer (a DSPy signature with the current instruction as an input field)
        current = call.field("current_instruction") or call.field("instruction") or "Solve the task."
        return {name: f"{current}\n{hint}" for name in _output_fields(call)}
    m = re.search(r"```\n?(.*?)\n?```", call.prompt, re.S)  # a raw prompt: GEPA shows the instruction fenced
    current = m.group(1).strip() if m else "Solve the task."
    return f"```\n{current}\n{hint}\n```"


def scripted_reflection_lm(model: str = "scripted/reflection") -> dspy.LM:
    """A scripted reflection LM: returns the current instruction plus a hint, fenced as GEPA expects."""
    return scripted_lm(_reflection_reply, model=model)
