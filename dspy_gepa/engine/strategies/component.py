"""Component selection: which components a reflective proposal rewrites.

The built-in selectors are pure: the round robin reads the parent's position in its cycle, and the
planner advances it (:meth:`State.advance_round_robin`) when it commits to the plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dspy_gepa.engine.state import State
from dspy_gepa.engine.strategies._base import ComponentSelector


def select_round_robin(state: State, parent: int) -> list[str]:
    """One component per proposal, cycling per candidate (a child continues its parent's cycle)."""
    names = state.component_names
    return [names[state.round_robin_next[parent] % len(names)]]


def select_all(state: State, parent: int) -> list[str]:
    return list(state.component_names)


COMPONENT_SELECTORS: dict[str, ComponentSelector] = {"round_robin": select_round_robin, "all": select_all}


def call_custom_selector(
    selector: Callable[..., Any],
    state: State,
    view: Any,
    trajectories: list[Any],
    scores: list[float],
    parent: int,
) -> list[str]:
    """Call a user selector with the keyword arguments ``dspy.GEPA``'s selectors receive (``view`` is the
    :class:`~dspy_gepa.engine.view.StateView` it gets as ``state``; gepa's own selector objects work too), and
    check that it named existing components."""
    chosen = selector(
        state=view,
        trajectories=trajectories,
        subsample_scores=scores,
        candidate_idx=parent,
        candidate=dict(state.candidates[parent]),
    )
    if isinstance(chosen, str):
        chosen = [chosen]
    chosen = list(chosen or [])
    unknown = [c for c in chosen if c not in state.component_names]
    if unknown or not chosen:
        raise ValueError(
            f"component_selector {selector!r} returned {chosen!r}; it must return a non-empty list of "
            f"component names from {state.component_names}."
        )
    return chosen
