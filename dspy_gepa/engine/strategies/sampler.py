"""Minibatch sampling over the training set."""

from __future__ import annotations

import random
from collections import Counter


class EpochShuffledSampler:
    """Each epoch visits the training ids in a fresh random order, in consecutive minibatches; when the
    set does not divide into whole minibatches, the least-used ids pad the last one.

    The ``n``-th call returns the ``n``-th minibatch; the state is (rng, epoch order, call count), all
    restored on resume by replaying the same calls.
    """

    def __init__(self, train_ids: list[int], minibatch_size: int, rng: random.Random):
        if not train_ids:
            raise ValueError("cannot sample minibatches from an empty training set")
        self.train_ids = list(train_ids)
        self.size = min(minibatch_size, len(train_ids))
        self.rng = rng
        self.order: list[int] = []
        self.position = 0
        self.uses: Counter[int] = Counter()

    def _new_epoch(self) -> None:
        order = list(self.train_ids)
        self.rng.shuffle(order)
        remainder = len(order) % self.size
        if remainder:
            last = set(order[-remainder:])
            spare = sorted((i for i in self.train_ids if i not in last), key=lambda i: (self.uses[i], i))
            order.extend(spare[: self.size - remainder])
        self.order = order
        self.position = 0

    def next(self) -> list[int]:
        if self.position >= len(self.order):
            self._new_epoch()
        batch = self.order[self.position : self.position + self.size]
        self.position += self.size
        self.uses.update(batch)
        return batch
