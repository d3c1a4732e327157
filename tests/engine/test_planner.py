"""The planner (``engine/planner.py``): how many proposals run at once, the validation screen, final validations."""

from dspy_gepa.engine import Engine, EngineConfig, EventBus
from dspy_gepa.engine import events as ev

from .fakes import FakeAdapter, make_data, run


def in_flight_peaks(events):
    live, peak = set(), 0
    for e in events:
        if isinstance(e, ev.ProposalStarted) and e.kind == "reflective":
            live.add(e.seq)
            peak = max(peak, len(live))
        elif isinstance(e, ev.ProposalCommitted):
            live.discard(e.seq)
    return peak


def test_concurrency_rises_when_proposals_are_rejected():
    class Rejecting(FakeAdapter):
        def propose_new_texts(self, candidate, reflective_dataset, components_to_update):
            return {c: candidate[c] + f" rule:{c}:useless{len(self.eval_calls)}" for c in components_to_update}

    _, _, events = run(Rejecting(), budget=300, max_concurrent_proposals=6)
    assert in_flight_peaks(events) == 6
    _, _, events = run(FakeAdapter(flaky=0), budget=120, max_concurrent_proposals=6)
    first_miss = next(i for i, e in enumerate(events) if isinstance(e, ev.ProposalCommitted)
                      and e.kind == "reflective" and e.new_candidate_idx is None)
    assert first_miss > 0
    assert in_flight_peaks(events[:first_miss]) == 1  # while every proposal is accepted: one at a time
    assert in_flight_peaks(events) > 1  # later, idle proposals run side by side


def test_staged_policy_screens_and_validates_the_best_at_the_end():
    train, val = make_data(n_train=12, n_val=40)
    adapter = FakeAdapter(("a", "b"), capacity=2)
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    cfg = EngineConfig(max_metric_calls=300, val_policy="staged")
    result = Engine(adapter, train, val, {"a": "Solve a.", "b": "Solve b."}, cfg, bus=bus).run()
    s = result.state
    screen = cfg.screen_size(len(val))
    assert screen == 10
    partial = [i for i in range(len(s.candidates)) if not s.is_full(i)]
    assert partial and all(len(s.val_scores[i]) == screen for i in partial)
    assert s.is_full(s.best_idx()) and s.best_idx() != 0
    finals = [e for e in events if isinstance(e, ev.CandidateValidated)]
    assert finals and finals[0].idx == max(partial + [e.idx for e in finals],
                                           key=lambda i: (sum(s.val_scores[i][v] for v in s.common_ids()), -i))
    assert result.total_metric_calls <= 300 == cfg.max_metric_calls
    assert s.common_ids() == sorted(next(iter(s.val_scores[i] for i in partial)))
