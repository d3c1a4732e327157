"""Value types (``engine/types.py``): candidate identity, rollout keys, batches and outcomes."""

import pytest

from dspy_gepa.engine.types import EvaluationBatch, ProposalOutcome, Rollout, RolloutKey, candidate_hash


def test_a_candidates_identity_is_its_content():
    h = candidate_hash({"a": "x", "b": "y"})
    assert h == candidate_hash({"b": "y", "a": "x"}) and len(h) == 20 and int(h, 16) >= 0
    assert h != candidate_hash({"a": "x", "b": "y "}) and h != candidate_hash({"a": "y", "b": "x"})


def test_train_and_val_rollouts_of_an_example_are_different_keys():
    train, val = RolloutKey("h", "train", 3), RolloutKey("h", "val", 3)
    assert train != val and len({train, val}) == 2
    assert train.as_list() == ["h", "train", 3] and sorted([val, train]) == [train, val]


def test_a_batch_round_trips_through_rollouts():
    batch = EvaluationBatch(outputs=["o0", "o1"], scores=[1, 0.5], trajectories=[{"t": 0}, {"t": 1}],
                            feedbacks=["ok", "no"], errors=[None, "E"], usages=[None, {"task": {}}])
    rollouts = [batch.rollout(0), batch.rollout(1)]
    assert rollouts[1] == Rollout(score=0.5, output="o1", feedback="no", trajectory={"t": 1}, error="E",
                                  usage={"task": {}})
    assert isinstance(rollouts[0].score, float)
    assert EvaluationBatch.from_rollouts(rollouts) == EvaluationBatch(
        outputs=["o0", "o1"], scores=[1.0, 0.5], trajectories=[{"t": 0}, {"t": 1}], feedbacks=["ok", "no"],
        errors=[None, "E"], usages=[None, {"task": {}}])
    assert EvaluationBatch(outputs=["o"], scores=[0.0]).rollout(0) == Rollout(score=0.0, output="o")


@pytest.mark.parametrize("status,adds,usable,idle", [
    ("seed", True, True, False), ("accepted", True, True, False), ("merge_accepted", True, True, False),
    ("rejected", False, True, False), ("screened_out", False, True, False), ("merge_rejected", False, True, False),
    ("validated", False, True, False), ("reflection_failed", False, False, False),
    ("skipped_perfect", False, True, True), ("duplicate", False, True, True), ("unchanged", False, True, True),
])
def test_outcome_kinds(status, adds, usable, idle):
    outcome = ProposalOutcome(status)
    assert (outcome.adds_candidate, outcome.usable, outcome.idle) == (adds, usable, idle)
