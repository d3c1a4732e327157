"""Sampling: the (parent, minibatch) pairs of the next search iteration.

By default an iteration is one reflective proposal: one parent from the candidate selector, one minibatch
from the batch sampler. A sampling strategy (gepa's ``SingleMutationSampling``, ``SameParentSampling(n)``,
``IndependentSampling(n)``, ``PxNSampling(p, n)``, or any object with ``sample_tasks(state,
candidate_selector, batch_sampler, trainset)``) may return several pairs: they are planned together as one
iteration (:mod:`~dspy_gepa.engine.strategies.selection` decides which of their children go on).

The strategy is handed gepa's protocols over the engine's own strategies: a candidate selector with
``select_candidate_idx(state)``, a batch sampler with ``next_minibatch_ids(trainset, state)`` and the
training set as a ``DataLoader`` (:class:`~dspy_gepa.engine.view.DataView`). The candidate selector and the
batch sampler may themselves be gepa objects (``candidate_selection_strategy`` and
``gepa_kwargs['batch_sampler']``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from dspy_gepa.engine.state import State
from dspy_gepa.engine.strategies.candidate import CANDIDATE_SELECTORS
from dspy_gepa.engine.strategies.sampler import EpochShuffledSampler
from dspy_gepa.engine.view import DataView


class ParentSelector:
    """gepa's ``CandidateSelector`` protocol over a built-in selector (by name) or a gepa-style object."""

    def __init__(self, strategy: Any, state: State, rng: random.Random):
        self.strategy = strategy
        self.state = state
        self.rng = rng

    def select_candidate_idx(self, state_view: Any) -> int:
        if isinstance(self.strategy, str):
            return CANDIDATE_SELECTORS[self.strategy](self.state, self.rng)
        idx = self.strategy.select_candidate_idx(state_view)
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(self.state.candidates):
            raise ValueError(f"candidate selector {self.strategy!r} returned {idx!r}, not the index of one of the "
                             f"{len(self.state.candidates)} candidates")
        return idx


class MinibatchSampler:
    """gepa's ``BatchSampler`` protocol over the engine's epoch-shuffled sampler or a gepa-style object."""

    def __init__(self, strategy: Any, train_size: int, minibatch_size: int, rng: random.Random):
        self.train_size = train_size
        self.strategy = strategy if strategy is not None else EpochShuffledSampler(list(range(train_size)),
                                                                                   minibatch_size, rng)

    def next_minibatch_ids(self, loader: Any, state_view: Any) -> list[int]:
        if isinstance(self.strategy, EpochShuffledSampler):
            return self.strategy.next()
        ids = list(self.strategy.next_minibatch_ids(loader, state_view))
        if not ids or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.train_size
                          for i in ids):
            raise ValueError(f"batch sampler {self.strategy!r} returned {ids!r}; it must return a non-empty list of "
                             f"training example ids (0 to {self.train_size - 1})")
        return ids


def sample_tasks(sampling: Any, state_view: Any, selector: ParentSelector, sampler: MinibatchSampler,
                 trainset: Sequence[Any]) -> list[tuple[int, list[int]]]:
    """The (parent, minibatch ids) pairs of one iteration."""
    loader = DataView(trainset)
    if sampling is None:
        return [(selector.select_candidate_idx(state_view), sampler.next_minibatch_ids(loader, state_view))]
    tasks = [(int(t.parent_idx), [int(i) for i in t.minibatch_ids])
             for t in sampling.sample_tasks(state_view, selector, sampler, loader)]
    if not tasks:
        raise ValueError(f"sampling strategy {sampling!r} returned no (parent, minibatch) task")
    return tasks
