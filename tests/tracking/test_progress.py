"""The progress bar: silent unless enabled (or stderr is a terminal), and what it shows."""

import io

import pytest

from dspy_gepa.engine import events as ev
from dspy_gepa.engine.types import ProposalOutcome, Rollout, RolloutKey
from dspy_gepa.tracking import ProgressBar, progress_enabled

from .conftest import run_gepa


@pytest.mark.parametrize("progress", [False, None])
def test_silent_when_disabled_or_not_a_terminal(progress, capfd):
    run_gepa(budget=60, progress=progress)
    err = capfd.readouterr().err
    assert "GEPA" not in err and "call/s" not in err and "%|" not in err


def test_shows_budget_best_score_and_candidates_when_enabled(capfd):
    r = run_gepa(budget=60, progress=True).detailed_results
    err = capfd.readouterr().err
    assert "GEPA" in err and "/60" in err
    assert f"best={r.val_aggregate_scores[r.best_idx]:.3f}" in err
    assert f"candidates={len(r.candidates)}" in err
    assert f"{r.total_metric_calls}/60" in err
    assert "cost=" not in err  # scripted LMs record no price


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_default_follows_the_terminal():
    assert progress_enabled(None, FakeTerminal()) is True
    assert progress_enabled(None, io.StringIO()) is False
    assert progress_enabled(True, io.StringIO()) is True
    assert progress_enabled(False, FakeTerminal()) is False


def test_cost_appears_once_an_event_carries_it():
    out = io.StringIO()
    bar = ProgressBar(stream=out, mininterval=0)
    bar(ev.RunStarted(config={}, seed_candidate={"p": "x"}, train_size=3, val_size=2, max_metric_calls=20,
                      plan="", resumed=False))
    bar(ev.BudgetUpdated(used=2, max_metric_calls=20, reserved=2))
    usage = {"task": {"openai/gpt-4.1": {"calls": 1, "cached": 0, "input_tokens": 10, "output_tokens": 5,
                                         "cost": 0.0021, "unpriced": 0}}}
    bar(ev.RolloutFinished(key=RolloutKey("h", "val", 0), rollout=Rollout(1.0, usage=usage), seq=0))
    bar(ev.CandidateAdded(idx=0, candidate={"p": "x"}, candidate_hash="h", parent_ids=[], val_scores={0: 1.0, 1: 0.0},
                          val_mean=0.5, discovered_at=0, seq=0, kind="seed", is_best=True))
    bar(ev.ProposalCommitted(seq=0, kind="seed", parent_ids=[], outcome=ProposalOutcome("seed"),
                             new_candidate_idx=0, metric_calls=2))
    bar(ev.RunFinished(best_idx=0, best_val_mean=0.5, total_metric_calls=2, num_candidates=1, num_full_val_evals=1,
                       stop_reason="done"))
    text = out.getvalue()
    assert "cost=$0.0021" in text and "best=0.500" in text and "candidates=1" in text and "2/20" in text
    assert bar.bar is None  # closed
