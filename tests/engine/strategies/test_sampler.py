"""The epoch sampler (``engine/strategies/sampler.py``): every training id once per epoch, the last minibatch
padded with the least-used ids, and the same minibatches for the same seed."""

import random
from collections import Counter

import pytest

from dspy_gepa.engine.strategies import EpochShuffledSampler


def batches(ids, size, seed, n):
    sampler = EpochShuffledSampler(ids, size, random.Random(seed))
    return [sampler.next() for _ in range(n)]


def test_an_epoch_that_divides_evenly_visits_every_id_once():
    drawn = batches(list(range(6)), 3, seed=0, n=8)
    assert all(len(b) == 3 for b in drawn)
    for epoch in range(4):
        assert sorted(drawn[2 * epoch] + drawn[2 * epoch + 1]) == list(range(6))


def test_a_short_last_minibatch_is_padded_with_the_least_used_ids():
    """Seven ids in minibatches of three: each epoch is the seven in a new order plus two pads, chosen among
    the ids not already in the short last minibatch by how often they were used before the epoch (then by id)."""
    ids = list(range(7))
    drawn = batches(ids, 3, seed=2, n=12)
    used = Counter()
    for epoch in range(4):
        order = [i for b in drawn[3 * epoch: 3 * epoch + 3] for i in b]
        assert sorted(order[:7]) == ids
        expected = sorted((i for i in ids if i != order[6]), key=lambda i: (used[i], i))[:2]
        assert order[7:] == expected
        used.update(order)


def test_the_first_epochs_pad_is_the_smallest_id_not_in_the_last_minibatch():
    drawn = batches([10, 11, 12, 13, 14], 2, seed=5, n=3)
    last = drawn[2][0]
    assert drawn[2][1] == min(i for i in (10, 11, 12, 13, 14) if i != last)


def test_a_minibatch_larger_than_the_training_set_is_the_whole_set():
    drawn = batches([4, 9], 3, seed=1, n=3)
    assert all(sorted(b) == [4, 9] for b in drawn)


def test_same_seed_same_minibatches_other_seed_others():
    assert batches(list(range(10)), 3, seed=7, n=20) == batches(list(range(10)), 3, seed=7, n=20)
    assert batches(list(range(10)), 3, seed=7, n=20) != batches(list(range(10)), 3, seed=8, n=20)


def test_an_empty_training_set_is_refused():
    with pytest.raises(ValueError, match="empty training set"):
        EpochShuffledSampler([], 3, random.Random(0))
