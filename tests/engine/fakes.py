"""A tiny DSPy-free system for engine tests, and :func:`run`, which runs the engine on it.

Each example has a category; the candidate's text for component ``c`` solves category ``k`` when it
contains the token ``rule:c:k``; with a ``capacity``, a text keeps only its newest rules, so candidates
specialize and the Pareto front holds trade-offs. An example's score is the fraction of components whose text solves
its category. Reflection reads the feedback of failed examples and adds the missing rule tokens,
except that about one input in ``flaky`` gets a useless rule, so search has something to do.
"""

from __future__ import annotations

import json
import threading
import time
import zlib

from dspy_gepa.engine import Engine, EngineConfig, EventBus
from dspy_gepa.engine.types import EvaluationBatch


class Crash(BaseException):
    """Simulates the process dying (not an Exception, so nothing catches it by accident)."""


class FakeAdapter:
    def __init__(self, components=("a",), flaky=3, crash_after_evals=None, crash_after_reflections=None,
                 latency=0.0, reflect_error=None, capacity=None):
        self.components = list(components)
        self.capacity = capacity
        self.flaky = flaky
        self.crash_after_evals = crash_after_evals
        self.crash_after_reflections = crash_after_reflections
        self.latency = latency
        self.reflect_error = reflect_error
        self.eval_calls = []
        self.reflections = 0
        self._lock = threading.Lock()

    def evaluate(self, batch, candidate, capture_traces=False):
        with self._lock:
            if self.crash_after_evals is not None and len(self.eval_calls) >= self.crash_after_evals:
                raise Crash("killed")
            self.eval_calls.extend((dict(candidate), ex["id"]) for ex in batch)
        if self.latency:
            time.sleep(self.latency)
        scores, traces, feedbacks = [], [], []
        for ex in batch:
            solved = [c for c in self.components if f"rule:{c}:{ex['cat']}" in candidate[c]]
            scores.append(len(solved) / len(self.components))
            missing = [c for c in self.components if c not in solved]
            feedbacks.append("ok" if not missing else f"needs category {ex['cat']} in {missing}")
            traces.append({"cat": ex["cat"], "missing": missing} if capture_traces else None)
        return EvaluationBatch(outputs=[{"cat": ex["cat"]} for ex in batch], scores=scores,
                               trajectories=traces if capture_traces else None, feedbacks=feedbacks)

    def make_reflective_dataset(self, candidate, eval_batch, components_to_update):
        return {c: [{"Inputs": {"cat": t["cat"]},
                     "Feedback": f"add rule:{c}:{t['cat']}" if c in t["missing"] else "correct"}
                    for t in eval_batch.trajectories]
                for c in components_to_update}

    def propose_new_texts(self, candidate, reflective_dataset, components_to_update):
        with self._lock:
            self.reflections += 1
            n = self.reflections
            if self.crash_after_reflections is not None and n > self.crash_after_reflections:
                raise Crash("killed during reflection")
        if self.reflect_error is not None:
            raise self.reflect_error
        out = {}
        for c in components_to_update:
            records = reflective_dataset.get(c, [])
            # Deterministic in its input, like a temperature-0 LM: some inputs get a useless rule.
            digest = zlib.crc32(repr((sorted(candidate.items()), records)).encode())
            if self.flaky and digest % self.flaky == 0:
                out[c] = candidate[c] + f" rule:{c}:useless{digest % 1000}"
            else:
                words = candidate[c].split() + sorted({r["Feedback"].split()[-1] for r in records
                                                      if r["Feedback"].startswith("add")})
                if self.capacity is not None:  # only the newest rules fit: candidates specialize
                    rules = [w for w in words if w.startswith("rule:")][-self.capacity:]
                    words = [w for w in words if not w.startswith("rule:")] + rules
                out[c] = " ".join(words)
        return out


def make_data(n_train=12, n_val=8, n_cats=6, seed=0):
    import random

    rng = random.Random(seed)
    train = [{"id": f"t{i}", "cat": rng.randrange(n_cats)} for i in range(n_train)]
    val = [{"id": f"v{i}", "cat": rng.randrange(n_cats)} for i in range(n_val)]
    return train, val


def run(adapter=None, budget=120, log_dir=None, components=("a",), seed_candidate=None, **cfg):
    """Run the engine on ``make_data()`` from ``seed_candidate`` (default: ``Solve <component>.``); returns
    (result, adapter, the events it emitted)."""
    adapter = adapter or FakeAdapter(components)
    train, val = make_data()
    seed = seed_candidate or {c: f"Solve {c}." for c in components}
    bus = EventBus()
    seen = []
    bus.subscribe(seen.append)
    engine = Engine(adapter, train, val, seed, EngineConfig(max_metric_calls=budget, **cfg), bus=bus, log_dir=log_dir)
    return engine.run(), adapter, seen


def summary(result):
    """What two runs that should end in the same place must agree on."""
    s = result.state
    return (s.candidates, s.parents, s.val_scores, s.discovered_at, result.total_metric_calls)


def journal_records(log_dir):
    return [json.loads(line) for line in (log_dir / "journal.jsonl").read_text().splitlines()]
