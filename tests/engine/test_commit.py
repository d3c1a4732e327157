"""In-order commit (``engine/commit.py``): a finished proposal's outcome becomes part of the state, the ledger
pays its rollouts, and the counters the planner reads (failure and idle streaks, merges due) move."""

import pytest

from dspy_gepa.engine import events as ev
from dspy_gepa.engine.commit import Committer
from dspy_gepa.engine.events import EventBus
from dspy_gepa.engine.ledger import Ledger
from dspy_gepa.engine.merge import MergeBook
from dspy_gepa.engine.proposals import Plan, Run
from dspy_gepa.engine.rollouts import Rollouts
from dspy_gepa.engine.state import State
from dspy_gepa.engine.types import ProposalOutcome, Rollout, RolloutKey, candidate_hash
from dspy_gepa.exceptions import ProgramError, ReflectionError

SEED = {"a": "A0"}


class Harness:
    """A committer over a two-example valset, with the seed committed (unless ``seed=False``)."""

    def __init__(self, seed=True, **options):
        self.state = State(component_names=["a"], val_ids=[0, 1])
        self.ledger = Ledger(None, None, 0)
        self.bus, self.events = EventBus(), []
        self.bus.subscribe(self.events.append)
        self.rollouts = Rollouts(None, None, [], [], self.ledger, self.bus, keep_val_outputs=False,
                                 on_ready=lambda run, value: None)
        self.merge_book = MergeBook()
        self.committer = Committer(self.state, self.ledger, self.rollouts, self.merge_book, self.bus,
                                   **{"use_merge": True, "max_merge_invocations": 5, "max_consecutive_failures": 5,
                                      **options})
        self.progress = self.committer.progress
        self.seq = 0
        if seed:
            self.commit("seed", child=SEED, val_scores={0: 0.0, 1: 0.0}, kind="seed",
                        keys=self.keys(SEED, "val", [0, 1]))

    def keys(self, candidate, split, ids, error=None, cost=0.0):
        out = [RolloutKey(candidate_hash(candidate), split, i) for i in ids]
        for k in out:
            self.rollouts.results[k] = Rollout(score=0.0, error=error, usage={"task": {"m": {"calls": 1, "cost": cost}}})
        return out

    def commit(self, status, *, child=None, val_scores=None, kind="reflective", keys=(), reason="", parents=(0,)):
        plan = Plan(seq=self.seq, kind=kind, parent_ids=[] if kind == "seed" else list(parents),
                    candidate=dict(child or SEED))
        run = Run(plan=plan, gen=None, start_commits=self.seq, keys=set(keys))
        run.outcome = ProposalOutcome(status, reason or f"reason {self.seq}", child=child, val_scores=val_scores)
        self.committer.commit(run, self.seq)
        self.seq += 1

    def committed(self):
        return [e for e in self.events if isinstance(e, ev.ProposalCommitted)]


def test_five_unusable_reflections_in_a_row_stop_the_run_listing_each():
    h = Harness()
    for _ in range(4):
        h.commit("reflection_failed")
    with pytest.raises(ReflectionError) as info:
        h.commit("reflection_failed")
    message = str(info.value)
    assert message.startswith("5 proposals in a row produced no usable candidate, so the run stops")
    assert all(f"proposal {s}: reflection_failed: reason {s}" in message for s in range(1, 6))


def test_a_usable_proposal_breaks_the_failure_streak_a_skipped_one_does_not():
    h = Harness()
    for _ in range(4):
        h.commit("reflection_failed")
    h.commit("rejected")
    assert h.progress.consecutive_failures == []
    for status in ("reflection_failed", "reflection_failed", "skipped_perfect", "reflection_failed",
                   "reflection_failed"):
        h.commit(status)
    assert len(h.progress.consecutive_failures) == 4
    with pytest.raises(ReflectionError):
        h.commit("reflection_failed")


def test_the_limit_is_a_setting():
    h = Harness(max_consecutive_failures=1)
    with pytest.raises(ReflectionError, match="1 proposals in a row"):
        h.commit("reflection_failed")


def test_idle_proposals_count_towards_convergence_until_one_does_something():
    h = Harness()
    for status in ("unchanged", "duplicate", "skipped_perfect"):
        h.commit(status)
    assert h.progress.consecutive_idle == 3
    h.commit("rejected")
    assert h.progress.consecutive_idle == 0
    assert h.progress.recent_outcomes == [False] * 4


def test_an_accepted_child_is_added_announced_and_makes_a_merge_due():
    h = Harness()
    h.commit("accepted", child={"a": "A1"}, val_scores={0: 1.0, 1: 0.0})
    assert h.state.candidates == [SEED, {"a": "A1"}] and h.state.parents == [[], [0]]
    assert h.merge_book.due == 1 and h.progress.last_commit_added and h.progress.recent_outcomes == [True]
    added = [e for e in h.events if isinstance(e, ev.CandidateAdded)]
    assert [(e.idx, e.is_best, e.val_mean) for e in added] == [(0, True, 0.0), (1, True, 0.5)]
    assert [e.idx for e in h.events if isinstance(e, ev.BestChanged)] == [0, 1]  # the seed is the first best
    assert [(e.seq, e.outcome.status, e.new_candidate_idx) for e in h.committed()] == [(0, "seed", 0),
                                                                                       (1, "accepted", 1)]


@pytest.mark.parametrize("options,attempts,due", [({}, 5, 0), ({"use_merge": False}, 0, 0), ({}, 4, 1)])
def test_no_merge_is_due_once_merges_are_used_up_or_off(options, attempts, due):
    h = Harness(**options)
    h.merge_book.attempts = attempts
    h.commit("accepted", child={"a": "A1"}, val_scores={0: 1.0, 1: 0.0})
    assert h.merge_book.due == due


def test_a_child_found_twice_while_in_flight_is_added_once():
    h = Harness()
    h.commit("accepted", child={"a": "A1"}, val_scores={0: 1.0, 1: 0.0})
    h.commit("accepted", child={"a": "A1"}, val_scores={0: 1.0, 1: 0.0})
    assert len(h.state.candidates) == 2
    last = h.committed()[-1]
    assert last.outcome.status == "duplicate" and last.new_candidate_idx is None
    assert h.progress.consecutive_idle == 1 and not h.progress.last_commit_added


def test_the_ledger_pays_each_rollout_once_and_discovery_is_dated_before_validation():
    h = Harness(seed=False)
    h.commit("seed", child=SEED, val_scores={0: 0.0, 1: 0.0}, kind="seed",
             keys=h.keys(SEED, "val", [0, 1], cost=0.25))
    child = {"a": "A1"}
    work = h.keys(SEED, "train", [0, 1, 2], cost=0.25) + h.keys(child, "train", [0, 1, 2], cost=0.25)
    validation = h.keys(child, "val", [0, 1], cost=0.25)
    h.commit("accepted", child=child, val_scores={0: 1.0, 1: 1.0}, keys=work + validation)
    assert h.state.discovered_at == [0, 2 + 6]  # the seed's validation and the proposal's minibatches
    assert h.ledger.committed == 10 and h.committed()[-1].metric_calls == 10
    assert h.ledger.spent["task"]["m"]["cost"] == 10 * 0.25
    assert all(h.rollouts.results[k].usage is None for k in work + validation)  # counted: dropped from memory
    h.commit("rejected", keys=h.keys(SEED, "train", [0, 1, 2]))  # the parent's minibatch again: already paid
    assert h.ledger.committed == 10 and h.progress.proposals[-1]["usage"] == {}


def test_a_final_validation_completes_a_screened_candidate():
    h = Harness()
    h.commit("accepted", child={"a": "A1"}, val_scores={0: 1.0})
    assert h.state.best_idx() == 0
    h.commit("validated", child={"a": "A1"}, val_scores={0: 1.0, 1: 1.0}, kind="final", parents=(1,))
    assert h.state.val_scores[1] == {0: 1.0, 1: 1.0} and h.state.num_full_val_evals == 2
    assert [(e.idx, e.val_mean) for e in h.events if isinstance(e, ev.CandidateValidated)] == [(1, 1.0)]
    assert [e.idx for e in h.events if isinstance(e, ev.BestChanged)] == [0, 1]  # the seed is the first best


def test_a_seed_that_fails_on_every_example_is_a_program_error():
    h = Harness(seed=False)
    with pytest.raises(ProgramError, match=r"failed on all 2 validation examples before any optimization, e\.g\. "
                                           r"KeyError: 'index'\. Fix the program"):
        h.commit("seed", child=SEED, val_scores={0: 0.0, 1: 0.0}, kind="seed",
                 keys=h.keys(SEED, "val", [0, 1], error="KeyError: 'index'"))
