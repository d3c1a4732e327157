"""Invariant 1 (DESIGN.md), the budget: a metric call is reserved before it is dispatched, so
``total_metric_calls <= max_metric_calls`` always, and the ledger equals the count of rollouts actually run.
The same holds for a cost budget, in dollars from each LM call's cost, where cache hits cost nothing.

Engine level counts what the adapter was asked to evaluate; DSPy level counts, independently of the
optimizer, the program-level metric calls (one per rollout, as the invariant defines a metric call). The
reservation arithmetic itself is unit-tested in ``tests/engine/test_ledger.py``.
"""

import uuid

import dspy
import pytest

from dspy_gepa import GEPA, ConfigurationError, DspyAdapter
from dspy_gepa.engine import events as ev

from ..engine.fakes import run
from ..helpers import Counter, CountingMetric, TwoStep, examples, metric, reflection_lm, task_lm
from ..test_cost import PRICES
from ..test_cost import optimize as optimize_priced


@pytest.mark.parametrize("budget", [8, 37, 120])
@pytest.mark.parametrize("threads,concurrency", [(1, 1), (4, 3)])
def test_budget_never_exceeded_and_ledger_counts_rollouts(budget, threads, concurrency):
    """Engine level: the adapter's own count of evaluated examples, and the peak of every budget update."""
    result, adapter, events = run(budget=budget, num_threads=threads, max_concurrent_proposals=concurrency)
    assert result.total_metric_calls <= budget
    assert result.total_metric_calls == len(adapter.eval_calls)
    peak = max((e.used for e in events if isinstance(e, ev.BudgetUpdated)), default=0)
    assert peak <= budget


@pytest.mark.parametrize("budget", [5, 37, 120])
def test_budget_is_never_exceeded(budget):
    """DSPy level: the metric counts its own program-level calls."""
    counted = CountingMetric()
    train, val = examples()[:12], examples()[8:12]
    with dspy.context(lm=task_lm()):
        r = GEPA(metric=counted, max_metric_calls=budget, reflection_lm=reflection_lm(), track_stats=True,
                 num_threads=4).compile(TwoStep(), trainset=train, valset=val).detailed_results
    assert r.total_metric_calls <= budget
    assert r.total_metric_calls == counted.rollouts.n


def test_budget_below_seed_validation_is_refused_before_any_lm_call():
    calls = Counter()
    with dspy.context(lm=task_lm(calls)), pytest.raises(
            ConfigurationError, match="max_metric_calls=5 cannot pay for validating the seed program on the 8 "
                                      "validation examples"):
        GEPA(metric=metric, max_metric_calls=5, reflection_lm=reflection_lm()).compile(
            dspy.Predict("word -> color"), trainset=examples()[:6], valset=examples()[:8])
    assert calls.n == 0


# ---------------------------------------------------------------- dollars


def test_max_cost_stops_the_run_below_the_limit_plus_one_unit():
    unbounded = optimize_priced(max_metric_calls=400).detailed_results
    limit = unbounded.total_cost / 3
    r = optimize_priced(max_metric_calls=400, max_cost=limit).detailed_results
    assert r.stop_reason.startswith("cost budget exhausted")
    largest_unit = max(p["cost"] for p in unbounded.proposals)
    assert r.total_cost <= limit + largest_unit
    assert r.total_metric_calls < unbounded.total_metric_calls
    assert r.val_aggregate_scores[r.best_idx] >= r.val_aggregate_scores[0]


def test_cache_hits_cost_nothing():
    lm = task_lm(cache=True)
    adapter = DspyAdapter(dspy.Predict("word -> color"), metric, prices=PRICES, instruction_proposer=lambda **kw: {})
    example = [dspy.Example(word=f"w{uuid.uuid4().hex}", color="red").with_inputs("word")]  # never seen: not cached
    with dspy.context(lm=lm):
        first = adapter.evaluate(example, {"self": "x"}).usages[0]["task"]["scripted/task"]
        again = adapter.evaluate(example, {"self": "x"}).usages[0]["task"]["scripted/task"]
    assert first["cached"] == 0 and first["cost"] > 0
    assert again == {"calls": 1, "cached": 1, "input_tokens": 0, "output_tokens": 0, "cost": 0.0, "unpriced": 0}
