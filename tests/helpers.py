"""A small scripted task shared by the tests.

Words have colors. The task LM answers a word's color only when its instruction (the system message
DSPy sends) contains the rule ``word => color``; otherwise it answers "unknown". The metric's feedback
names the missing rule, and the scripted reflection LM copies the rules named in the feedback into the
new instruction. So the validation score can only rise through reflection on feedback.
"""

from __future__ import annotations

import re
import threading

import dspy

from dspy_gepa import ScoreWithFeedback
from dspy_gepa.testing import scripted_lm

WORDS = {
    "apple": "red", "banana": "yellow", "lime": "green", "plum": "purple", "cherry": "red", "kiwi": "green",
    "lemon": "yellow", "grape": "purple", "tomato": "red", "pear": "green", "corn": "yellow", "beet": "purple",
    "strawberry": "red", "spinach": "green", "mango": "orange", "carrot": "orange",
}


def examples(words=None):
    return [dspy.Example(word=w, color=c).with_inputs("word") for w, c in (words or WORDS).items()]


def split():
    data = examples()
    return data[:10], data[4:12]


class Counter:
    def __init__(self):
        self.n = 0
        self._lock = threading.Lock()

    def bump(self):
        with self._lock:
            self.n += 1


def rule_for(text: str, word: str) -> str | None:
    m = re.search(rf"\b{re.escape(word)} => (\w+)", text)
    return m.group(1) if m else None


def task_lm(counter: Counter | None = None, stop_after: int | None = None, **kw):
    """The task LM; ``counter`` counts its calls, and with ``stop_after`` the call after that many raises
    KeyboardInterrupt (the user presses Ctrl-C, or the process is killed, mid-run)."""

    def respond(call):
        if counter is not None:
            counter.bump()
            if stop_after is not None and counter.n > stop_after:
                raise KeyboardInterrupt
        word = call.field("word")
        return {"color": (rule_for(call.system, word) if word else None) or "unknown"}

    return scripted_lm(respond, "scripted/task", **kw)


def reflection_lm(**kw):
    def respond(call):
        current = call.field("current_instruction") or ""
        rules = [r for r in dict.fromkeys(re.findall(r"rule '(\w+ => \w+)'", call.prompt)) if r not in current]
        return {"new_instruction": current + "".join(f"\n{r}" for r in rules)}

    return scripted_lm(respond, "scripted/reflection", **kw)


def metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    ok = pred.color == gold.color
    return ScoreWithFeedback(float(ok), "Correct." if ok else f"Wrong. Add the rule '{gold.word} => {gold.color}'.")


class CountingMetric:
    """The metric, counting program-level calls (one per rollout) independently of the optimizer."""

    def __init__(self):
        self.rollouts = Counter()

    def __call__(self, gold, pred, trace=None, pred_name=None, pred_trace=None):
        if pred_name is None:
            self.rollouts.bump()
        return metric(gold, pred, trace, pred_name, pred_trace)


class TwoStep(dspy.Module):
    """Two predictors with identical signatures: ``first`` guesses, ``second`` may correct it."""

    def __init__(self):
        super().__init__()
        self.first = dspy.Predict("word -> color")
        self.second = dspy.Predict("word -> color")

    def forward(self, word):
        guess = self.first(word=word).color
        fixed = self.second(word=word).color
        return dspy.Prediction(color=fixed if fixed != "unknown" else guess)
