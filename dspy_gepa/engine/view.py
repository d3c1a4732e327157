"""The state as user objects see it: :class:`StateView`, with the attribute names of ``gepa``'s
``GEPAState`` (and ours), so stop conditions, component and candidate selectors, batch samplers and
callbacks written for ``dspy.GEPA`` read what they expect.

``i`` follows gepa's count: -1 before the first search iteration, then the index of the iteration being
planned (a merge attempt, or one reflective proposal or one group of them). ``total_num_evals`` counts the
metric calls of committed work, so what a stop condition sees does not depend on thread timing. The view
is read-only except for the round-robin cursor gepa's own round-robin selector advances.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dspy_gepa.engine import pareto
from dspy_gepa.engine.state import State
from dspy_gepa.engine.types import Candidate


class StateView:
    def __init__(self, state: State, iteration: int, metric_calls: int = 0):
        self._state = state
        self.i = iteration
        self.total_num_evals = metric_calls

    @property
    def program_candidates(self) -> list[Candidate]:
        return [dict(c) for c in self._state.candidates]

    candidates = program_candidates

    @property
    def list_of_named_predictors(self) -> list[str]:
        return list(self._state.component_names)

    component_names = list_of_named_predictors

    @property
    def named_predictor_id_to_update_next_for_program_candidate(self) -> list[int]:
        """Each candidate's next component in the round robin (the live list: gepa's selector advances it)."""
        return self._state.round_robin_next

    @property
    def parent_program_for_candidate(self) -> list[list[int | None]]:
        return [list(p) if p else [None] for p in self._state.parents]

    @property
    def prog_candidate_val_subscores(self) -> list[dict[int, float]]:
        return [dict(s) for s in self._state.val_scores]

    @property
    def program_full_scores_val_set(self) -> list[float]:
        return self._state.means()

    per_program_tracked_scores = program_full_scores_val_set

    @property
    def num_full_ds_evals(self) -> int:
        return self._state.num_full_val_evals

    @property
    def num_metric_calls_by_discovery(self) -> list[int]:
        return list(self._state.discovered_at)

    @property
    def pareto_front_valset(self) -> dict[int, float]:
        return pareto.best_per_example(self._state.val_scores, self._state.val_ids)

    @property
    def program_at_pareto_front_valset(self) -> dict[int, set[int]]:
        return pareto.fronts(self._state.val_scores, self._state.val_ids)

    @property
    def frontier_type(self) -> str:
        return self._state.frontier_type

    @property
    def prog_candidate_objective_scores(self) -> list[dict[str, float]]:
        return self._state.objective_means()

    @property
    def objective_pareto_front(self) -> dict[str, float]:
        means = self._state.objective_means()
        return {n: max(m[n] for m in means if n in m) for n in sorted({n for m in means for n in m})}

    @property
    def program_at_pareto_front_objectives(self) -> dict[str, set[int]]:
        means = self._state.objective_means()
        return pareto.fronts(means, sorted({n for m in means for n in m}))

    def get_pareto_front_mapping(self) -> dict[Any, set[int]]:
        """The fronts parent selection reads (per validation example, or per the run's ``frontier_type``)."""
        return self._state.front_mapping()

    def get_program_average_val_subset(self, program_idx: int) -> tuple[float, int]:
        scores = self._state.val_scores[program_idx]
        return (sum(scores.values()) / len(scores), len(scores)) if scores else (float("-inf"), 0)

    @property
    def valset_evaluations(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for idx, scores in enumerate(self._state.val_scores):
            for vid in scores:
                out.setdefault(vid, []).append(idx)
        return out

    def is_consistent(self) -> bool:
        return True


class DataView:
    """A dataset as gepa's ``DataLoader`` protocol presents it (``all_ids``, ``fetch``, ``len``): what
    gepa's samplers and callbacks are handed as the training set. Ids are positions."""

    def __init__(self, examples: Sequence[Any]):
        self._examples = examples

    def all_ids(self) -> list[int]:
        return list(range(len(self._examples)))

    def fetch(self, ids: Sequence[int]) -> list[Any]:
        return [self._examples[i] for i in ids]

    def __len__(self) -> int:
        return len(self._examples)
