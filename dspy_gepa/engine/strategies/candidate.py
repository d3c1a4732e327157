"""Parent selection: which candidate the next reflective proposal starts from."""

from __future__ import annotations

import random

from dspy_gepa.engine.state import State
from dspy_gepa.engine.strategies._base import CandidateSelector


def select_pareto(state: State, rng: random.Random) -> int:
    """The paper's rule (arXiv 2507.19457, Alg. 2): among candidates that are best on at least one
    validation example and not dominated, sample one with probability proportional to the number of
    examples it is best on."""
    weights = state.pareto_candidates()
    if not weights:
        return state.best_idx()
    population = sorted(weights)
    return rng.choices(population, weights=[weights[i] for i in population], k=1)[0]


def select_current_best(state: State, rng: random.Random) -> int:
    """Always the candidate with the highest mean validation score."""
    return state.best_idx()


CANDIDATE_SELECTORS: dict[str, CandidateSelector] = {"pareto": select_pareto, "current_best": select_current_best}
