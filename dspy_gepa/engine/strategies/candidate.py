"""Parent selection: which candidate the next reflective proposal starts from."""

from __future__ import annotations

import random

from dspy_gepa.engine import pareto
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


def select_epsilon_greedy(state: State, rng: random.Random, epsilon: float = 0.1) -> int:
    """With probability ``epsilon`` any candidate, uniformly; otherwise the current best (gepa's
    ``epsilon_greedy``)."""
    if rng.random() < epsilon:
        return rng.randint(0, len(state.candidates) - 1)
    return state.best_idx()


def select_top_k_pareto(state: State, rng: random.Random, k: int = 5) -> int:
    """The Pareto rule restricted to the ``k`` candidates with the highest mean scores (gepa's ``top_k_pareto``)."""
    means = state.common_means()
    top = set(sorted(range(len(means)), key=lambda i: (-means[i], i))[:k])
    fronts = {key: members & top for key, members in state.front_mapping().items() if members & top}
    weights = pareto.prune_dominated(fronts, means) if fronts else {}
    if not weights:
        return state.best_idx()
    population = sorted(weights)
    return rng.choices(population, weights=[weights[i] for i in population], k=1)[0]


CANDIDATE_SELECTORS: dict[str, CandidateSelector] = {"pareto": select_pareto, "current_best": select_current_best,
                                                     "epsilon_greedy": select_epsilon_greedy,
                                                     "top_k_pareto": select_top_k_pareto}
