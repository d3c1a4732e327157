"""Deterministic fake LMs for the scripted benchmarks, built on :func:`dspy_gepa.testing.scripted_lm`.

* The **task LM** plays every predictor of a task. It recognises which step it is asked for by the
  output field named in DSPy's system message, reads the rules of the instruction it was given (the
  first ``rule_limit`` rule lines only: its "attention span") and answers with the value of the first
  rule whose key is a word of the input; with no matching rule it answers ``unknown``. Its answer is a
  pure function of the prompt.
* The **reflection LM** writes a new instruction from whatever prompt a proposer sends it: it finds the
  current instruction's rules and the feedback's hints by their syntax (see :mod:`.rules`), keeps the
  rules, adds the hinted ones and caps the rule count. Deterministic imperfections, drawn from a hash of
  the prompt, make proposals fail now and then: forgetting an existing rule, garbling the answer of an
  added one, and dropping random old rules when over the cap. It fills every output field the system
  message asks for (reasoning-like fields get a short note, the others the instruction), in JSON or chat
  format as the adapter expects, so it works with any proposer signature.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import dspy

from dspy_gepa.testing import ScriptedCall, scripted_lm

from .rules import apply_rules, make_instruction, parse, rules_in

_OUTPUT_SECTION = re.compile(r"Your output fields are:\s*\n(?P<body>(?:\d+\.\s*`\w+`[^\n]*\n?(?:[ \t]+[^\n]*\n?)*)+)")
_FIELD_NAME = re.compile(r"^\d+\.\s*`(\w+)`", re.M)
_REASONING_NAMES = ("reasoning", "rationale", "analysis", "thought", "thinking", "explanation")


def output_fields(system: str) -> list[str]:
    """Names of the output fields DSPy's system message announces ("Your output fields are: 1. `x` ...")."""
    m = _OUTPUT_SECTION.search(system)
    return _FIELD_NAME.findall(m.group("body")) if m else []


def prompt_rng(call: ScriptedCall, salt: str = "") -> random.Random:
    digest = hashlib.sha256((salt + "\x00" + call.prompt).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class StepSpec:
    """One predictor as the task LM sees it: output field, input field carrying the key, attention span."""

    name: str
    output_field: str
    input_field: str
    rule_limit: int


#: Seconds an LM call takes: a constant, or a function of the call (see :class:`LogNormalLatency`).
Latency = float | Callable[[ScriptedCall], float]


@dataclass(frozen=True)
class LogNormalLatency:
    """Log-normal per-call latency, a pure function of the prompt (the same call always takes as long, so a
    run's timing is repeatable); the tail is cut at ``max_sigmas`` standard deviations."""

    median: float
    sigma: float
    salt: str = ""
    max_sigmas: float = 3.5

    def __call__(self, call: ScriptedCall) -> float:
        u = prompt_rng(call, "latency" + self.salt).random()
        z = statistics.NormalDist().inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
        return self.median * math.exp(self.sigma * max(-self.max_sigmas, min(self.max_sigmas, z)))


@dataclass(frozen=True)
class LatencyProfile:
    """A world's own latency model: real-world seconds divided by ``time_scale`` (the simulation runs that
    much faster than the world it models; every reported time is simulated seconds)."""

    task_median_s: float
    task_sigma: float
    reflection_median_s: float
    reflection_sigma: float
    time_scale: float

    @property
    def task(self) -> LogNormalLatency:
        return LogNormalLatency(self.task_median_s / self.time_scale, self.task_sigma, "task")

    @property
    def reflection(self) -> LogNormalLatency:
        return LogNormalLatency(self.reflection_median_s / self.time_scale, self.reflection_sigma, "reflection")


def latency_of(latency: Latency, call: ScriptedCall) -> float:
    return latency(call) if callable(latency) else latency


def task_responder(steps: list[StepSpec]) -> Callable[[ScriptedCall], dict[str, str]]:
    by_output = {s.output_field: s for s in steps}

    def respond(call: ScriptedCall) -> dict[str, str]:
        names = output_fields(call.system) or [s.output_field for s in steps[:1]]
        reply: dict[str, str] = {}
        for name in names:
            spec = by_output.get(name)
            if spec is None:
                reply[name] = "Applying the rules of the instruction."
                continue
            text = call.field(spec.input_field)
            if text is None:
                text = call.last_user_text
            # The instruction sits in the system message; inputs never contain rule lines.
            reply[name] = apply_rules(rules_in(call.system or call.prompt, limit=spec.rule_limit), text)
        return reply

    return respond


def make_task_lm(steps: list[StepSpec], *, latency: Latency = 0.0) -> dspy.LM:
    return scripted_lm(task_responder(steps), "scripted/task", latency=latency)


def garble(value: str, rng: random.Random) -> str:
    """A misspelling that never equals ``value`` (so the rule answers wrongly)."""
    i = rng.randrange(len(value))
    repl = rng.choice([c for c in "qxzjkvw" if c != value[i]])
    return value[:i] + repl + value[i + 1 :]


@dataclass
class ReflectionPolicy:
    """Caps and imperfections of the fake reflection LM."""

    caps: dict[str, int]
    p_forget: float = 0.15
    p_garble: float = 0.15
    default_cap: int = 8
    proposals: list[dict] = field(default_factory=list)

    def propose(self, call: ScriptedCall) -> str:
        parsed = parse(call.prompt)
        hinted = {s: h for s, h in parsed.hints.items() if h}
        if hinted:
            step = max(hinted, key=lambda s: (len(hinted[s]), -list(hinted).index(s)))
        elif parsed.steps:
            step = parsed.steps[0]
        else:
            step = None
        current = dict(parsed.rules.get(step) or parsed.rules.get(None) or {})
        task = parsed.tasks.get(step) or parsed.tasks.get(None) or "Apply the matching rule."
        hints = hinted.get(step, {})
        rng = prompt_rng(call, "reflect")
        new = dict(current)
        forgot = garbled = 0
        if new and rng.random() < self.p_forget:
            del new[rng.choice(list(new))]
            forgot = 1
        added = []
        for key, value in hints.items():
            if rng.random() < self.p_garble:
                value = garble(value, rng)
                garbled += 1
            new.pop(key, None)
            new[key] = value
            added.append(key)
        cap = self.caps.get(step, self.default_cap) if step else self.default_cap
        dropped = 0
        while len(new) > cap:
            old = [k for k in new if k not in added] or list(new)
            del new[rng.choice(old)]
            dropped += 1
        self.proposals.append(
            {"step": step, "added": len(added), "forgot": forgot, "garbled": garbled, "dropped": dropped}
        )
        return make_instruction(step or "task", task, new)

    def respond(self, call: ScriptedCall) -> dict[str, str]:
        instruction = self.propose(call)
        names = output_fields(call.system) or ["new_instruction"]
        return {
            n: (
                "Kept the rules that work and added the ones the feedback reveals."
                if n.lower() in _REASONING_NAMES
                else instruction
            )
            for n in names
        }


def make_reflection_lm(policy: ReflectionPolicy, *, latency: Latency = 0.0) -> dspy.LM:
    return scripted_lm(policy.respond, "scripted/reflection", latency=latency)
