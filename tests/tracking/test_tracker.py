"""The generic tracker, fed engine events directly: its summary agrees with the engine and the report."""

from dspy_gepa.engine import events as ev
from dspy_gepa.tracking import TrackingOptions, build_run
from dspy_gepa.tracking._recorder import RunRecords, record_of
from dspy_gepa.tracking._tracker import ExperimentTracker, RunContext

from .test_session import FakeBackend


def test_summary_pareto_front_is_the_engines_front_over_examples_every_candidate_has():
    FakeBackend.instances, FakeBackend.fail_on = [], {}
    tracker = ExperimentTracker(FakeBackend(TrackingOptions()), RunContext(params={}, log_dir=None,
                                                                          records=RunRecords(None)))
    seed = {"p": "a"}
    events = [ev.RunStarted(config={}, seed_candidate=seed, train_size=4, val_size=4, max_metric_calls=40,
                            plan="", resumed=False)]
    tables = [{0: 1.0, 1: 0.0, 2: 0.0, 3: 0.0}, {0: 0.0, 1: 1.0, 2: 1.0, 3: 1.0}, {1: 1.0, 2: 1.0}]  # #2 screened
    for idx, scores in enumerate(tables):
        events.append(ev.CandidateAdded(idx=idx, candidate={"p": str(idx)}, candidate_hash=f"h{idx}",
                                        parent_ids=[0] if idx else [], val_scores=scores,
                                        val_mean=sum(scores.values()) / len(scores), discovered_at=idx, seq=idx,
                                        kind="reflective" if idx else "seed", is_best=idx == 1))
    events.append(ev.RunFinished(best_idx=1, best_val_mean=0.75, total_metric_calls=10, num_candidates=3,
                                 num_full_val_evals=2, stop_reason="budget"))
    tracker.start(events[0])
    for event in events[1:]:
        tracker(event)
    summary = next(call[1] for call in tracker.backend.calls if call[0] == "log_summary")
    run = build_run(filter(None, map(record_of, events)))
    assert summary["gepa/pareto_front"] == ", ".join(f"#{i}" for i in run.front_counts()) == "#1, #2"
