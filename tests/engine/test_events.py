"""The event bus delivers to a subscriber that declares ``events`` only the events of those classes."""

from dspy_gepa.engine import events as ev
from dspy_gepa.engine.types import Rollout, RolloutKey


class OnlyBudget:
    events = (ev.BudgetUpdated,)

    def __init__(self):
        self.seen = []

    def __call__(self, event):
        self.seen.append(event)


def test_a_subscriber_declaring_events_gets_only_those():
    bus, picky, everything = ev.EventBus(), OnlyBudget(), []
    bus.subscribe(picky)
    bus.emit(ev.RolloutFinished(key=RolloutKey("h", "val", 0), rollout=Rollout(1.0), seq=0))
    bus.subscribe(everything.append)  # a new subscriber resets the routes
    budget = ev.BudgetUpdated(used=1, max_metric_calls=10, reserved=0)
    bus.emit(budget)
    bus.emit(ev.UsageRecorded(usage={}, reason="x"))
    assert picky.seen == [budget] and len(everything) == 2
