"""Minibatch sampling over the training set."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection


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

    def next(self, avoid: Collection[int] = ()) -> list[int]:
        """The next minibatch. Ids in ``avoid`` (e.g. examples the parent is known to solve) are passed over
        while the rest of the epoch has others, and stay in the epoch for a later minibatch; an epoch whose
        rest is all in ``avoid`` ends early."""
        if self.position >= len(self.order):
            self._new_epoch()
        rest = range(self.position, len(self.order))
        if avoid and sum(1 for k in rest if self.order[k] not in avoid) < self.size:
            self._new_epoch()
            rest = range(self.position, len(self.order))
        if avoid:
            preferred = [k for k in rest if self.order[k] not in avoid]
            chosen = (preferred + [k for k in rest if self.order[k] in avoid])[: self.size]
            taken = set(chosen)
            self.order[self.position:] = [self.order[k] for k in chosen] + [self.order[k] for k in rest
                                                                             if k not in taken]
        batch = self.order[self.position : self.position + self.size]
        self.position += self.size
        self.uses.update(batch)
        return batch
