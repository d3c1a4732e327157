"""Many threads, several proposals in flight, random LM latencies: the budget ledger equals the rollouts
that really ran, candidate ids are unique and consecutive, the journal replays to the live state, and the
result does not depend on the number of threads.

The task is ``run_target``'s (rules learned per kind of word, a reflection LM that sometimes proposes a
useless rule, merges): enough rejections for the engine to keep several proposals in flight."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter

import dspy
import pytest

from dspy_gepa import GEPA
from dspy_gepa.engine.journal import JOURNAL_NAME
from dspy_gepa.testing import scripted_lm

from . import run_target as target

pytestmark = pytest.mark.slow


class Load:
    """Random (seeded) latency per LM call, and the peak number of calls in progress at once."""

    def __init__(self, seed: int, top: float):
        self.rng = random.Random(seed)
        self.top = top
        self.lock = threading.Lock()
        self.now = self.peak = self.calls = 0

    def wrap(self, respond):
        def timed(call):
            with self.lock:
                delay = self.rng.uniform(0, self.top)
                self.now += 1
                self.calls += 1
                self.peak = max(self.peak, self.now)
            try:
                threading.Event().wait(delay)
                return respond(call)
            finally:
                with self.lock:
                    self.now -= 1

        return timed


def optimize(tmp_path, name, *, threads, seed=0, log_dir=None):
    ledger = tmp_path / f"{name}.ledger"
    target.TwoRules.ledger = target.Ledger(str(ledger))
    task, reflection = Load(seed, 0.004), Load(seed + 1, 0.03)
    train, val = target.data()
    try:
        with dspy.context(lm=scripted_lm(task.wrap(target.task_respond), "scripted/task")):
            program = GEPA(metric=target.metric, max_metric_calls=300, num_threads=threads, max_concurrent_proposals=4,
                           reflection_lm=scripted_lm(reflection.wrap(target.reflection_respond), "scripted/reflection"),
                           track_stats=True, log_dir=str(log_dir or tmp_path / name), seed=3).compile(
                target.TwoRules(), trainset=train, valset=val)
    finally:
        target.TwoRules.ledger = None
    ran = ledger.read_text().splitlines() if ledger.exists() else []
    return program.detailed_results, ran, task, reflection


def summary(r):
    return r.candidate_texts, r.parents, r.val_subscores, r.discovery_eval_counts, r.total_metric_calls, r.best_idx


def journal(log_dir):
    return [json.loads(line) for line in (log_dir / JOURNAL_NAME).read_text().splitlines()]


def test_sixteen_threads_four_proposals_in_flight(tmp_path):
    result, ran, task, reflection = optimize(tmp_path, "live", threads=16)
    records = journal(tmp_path / "live")
    rollouts = [r for r in records if r["type"] == "rollout"]
    # Budget ledger == rollouts that ran (the program's own ledger) == rollouts recorded, each once.
    assert result.total_metric_calls == len(ran) == len(rollouts) <= 300
    assert len({tuple(r["key"]) for r in rollouts}) == len(rollouts)
    assert len(set(ran)) == len(ran)
    # Several proposals were really in flight: reflections overlapped, and so did task calls.
    assert reflection.peak >= 2 and task.peak > 4
    # Candidate ids: consecutive, one per distinct candidate, in the journal as in the result.
    added = [r for r in records if r["type"] == "candidate"]
    assert [r["idx"] for r in added] == list(range(len(result.candidates)))
    assert len({r["hash"] for r in added}) == len(added)
    assert [r["texts"] for r in added] == result.candidate_texts
    assert Counter(r["seq"] for r in records if r["type"] == "commit").most_common(1)[0][1] == 1
    # The finished run replayed from its journal: the same state, not one LM call.
    again, ran_again, task_again, reflection_again = optimize(tmp_path, "replay", threads=16,
                                                              log_dir=tmp_path / "live")
    assert summary(again) == summary(result)
    assert ran_again == [] and task_again.calls == reflection_again.calls == 0


@pytest.mark.parametrize("threads", [1, 4])
def test_same_result_for_any_number_of_threads(tmp_path, threads):
    reference, _, _, _ = optimize(tmp_path, "sixteen", threads=16, seed=5)
    other, ran, _, _ = optimize(tmp_path, f"t{threads}", threads=threads, seed=threads)
    assert summary(other) == summary(reference)
    assert len(ran) == other.total_metric_calls
