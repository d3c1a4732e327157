"""The protocols of the engine's pluggable strategies. Built-in strategies live one per module beside
this one; none of them changes the state while planning (the planner does, explicitly)."""

from __future__ import annotations

import random
from typing import Protocol

from dspy_gepa.engine.state import State


class CandidateSelector(Protocol):
    """Which candidate the next reflective proposal starts from."""

    def __call__(self, state: State, rng: random.Random) -> int: ...


class ComponentSelector(Protocol):
    """Which components of ``parent`` a reflective proposal rewrites."""

    def __call__(self, state: State, parent: int) -> list[str]: ...


class BatchSampler(Protocol):
    """The training ids of the next minibatch; the ``n``-th call returns the ``n``-th minibatch, so a
    resumed run that replays the same calls reaches the same sampler state."""

    def next(self) -> list[int]: ...
