"""A valset large next to the budget: with the ``staged`` policy the seed is screened like a child when
the budget could not otherwise pay for one proposal, so the run makes proposals and spends its budget,
and the preview says so before the run."""

import pytest

from dspy_gepa.engine import Engine, EngineConfig, EventBus, preview
from dspy_gepa.engine import events as ev
from dspy_gepa.engine.ledger import seed_screened

from .fakes import FakeAdapter, make_data

SEED = {"a": "Solve a.", "b": "Solve b."}


def run(budget, log_dir=None, policy="staged"):
    train, val = make_data(n_train=12, n_val=40)
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    cfg = EngineConfig(max_metric_calls=budget, val_policy=policy)
    result = Engine(FakeAdapter(("a", "b"), capacity=2), train, val, SEED, cfg, bus=bus, log_dir=log_dir).run()
    return result, events


def test_seed_is_screened_only_when_no_proposal_could_start_otherwise():
    # valset 40, screen 10, final reserve 30, minibatch 3: the seed, one proposal and the reserve need 86
    assert seed_screened(85, 40, 10, 3) and not seed_screened(86, 40, 10, 3)
    assert not seed_screened(85, 40, 40, 3) and not seed_screened(None, 40, 10, 3)


def test_a_screened_seed_lets_the_run_make_proposals_and_return_a_validated_candidate():
    result, events = run(80)
    state = result.state
    seed_rollouts = [e for e in events if isinstance(e, ev.RolloutFinished) and e.seq == 0]
    proposals = [e for e in events if isinstance(e, ev.ProposalCommitted) and e.kind in ("reflective", "merge")]
    p = preview(80, 12, 40, 3, 10)
    assert p.seed_screened and p.seed_validation == len(seed_rollouts) == 10
    assert proposals and p.proposals_min <= len(proposals) <= p.proposals_max
    assert state.is_full(state.best_idx()) and len(state.candidates) > 1
    assert result.total_metric_calls <= 80
    # what is left cannot pay for another proposal's worst case, and the reserve was spent at the end
    assert result.total_metric_calls > 80 - p.per_accepted_proposal - p.final_reserve
    assert any(isinstance(e, ev.CandidateValidated) for e in events)


def test_the_full_policy_previews_no_proposal_when_none_can_start():
    result, events = run(80, policy="full")
    p = preview(80, 12, 40, 3, 40)
    assert p.proposals_max == 0 and "raise max_metric_calls to at least 86" in str(p)
    assert not [e for e in events if isinstance(e, ev.ProposalCommitted) and e.kind != "seed"]


@pytest.mark.parametrize("budget", [80, 300])
def test_resume_keeps_how_the_first_session_validated_the_seed(tmp_path, budget):
    first, _ = run(80, log_dir=tmp_path)
    resumed, events = run(budget, log_dir=tmp_path)
    assert resumed.state.candidates[:len(first.state.candidates)] == first.state.candidates
    assert not [e for e in events if isinstance(e, ev.RolloutFinished) and e.seq == 0 and not e.replayed]
