"""Invariant 1 (DESIGN.md), the budget: a metric call is reserved before it is dispatched, so
``total_metric_calls <= max_metric_calls`` always, and the ledger equals the count of rollouts actually run.
The reservation arithmetic itself is unit-tested in ``tests/engine/test_ledger.py``."""

import pytest

from dspy_gepa.engine import events as ev
from dspy_gepa.exceptions import ConfigurationError

from ..engine.fakes import run


@pytest.mark.parametrize("budget", [8, 37, 120])
@pytest.mark.parametrize("threads,concurrency", [(1, 1), (4, 3)])
def test_budget_never_exceeded_and_ledger_counts_rollouts(budget, threads, concurrency):
    """Engine level: the adapter's own count of evaluated examples, and the peak of every budget update."""
    result, adapter, events = run(budget=budget, num_threads=threads, max_concurrent_proposals=concurrency)
    assert result.total_metric_calls <= budget
    assert result.total_metric_calls == len(adapter.eval_calls)
    peak = max((e.used for e in events if isinstance(e, ev.BudgetUpdated)), default=0)
    assert peak <= budget


def test_budget_smaller_than_valset_is_refused():
    with pytest.raises(ConfigurationError, match="cannot pay for validating the seed"):
        run(budget=5)
