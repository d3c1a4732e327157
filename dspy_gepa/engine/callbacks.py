"""gepa-style callback objects (``gepa_kwargs={"callbacks": [...]}``, e.g. gepa-viz's ``GepaVizCallback``)
as a subscriber to the engine's events.

gepa calls ``on_iteration_start``, ``on_candidate_selected``, ``on_evaluation_end``, ... in the order its
sequential loop reaches them. Here proposals may run concurrently, so :class:`GepaCallbacks` collects what
each proposal did (its plan, rollouts and reflection) and replays it to the callbacks, in gepa's order and
with gepa's event dictionaries, when the proposal commits: the callbacks see one whole iteration at a time
(one proposal, or the group a sampling strategy planned together), in commit order, whatever ran at once. Each callback method is optional; one that raises is logged and the
run goes on. Commits replayed from a journal are not reported again (gepa does not report a resumed run's
past iterations either).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from dspy_gepa.engine import events as ev
from dspy_gepa.engine.state import State
from dspy_gepa.engine.types import Rollout, RolloutKey, candidate_hash
from dspy_gepa.engine.view import DataView, StateView

logger = logging.getLogger(__name__)

#: The methods a gepa callback may implement (gepa.core.callbacks.GEPACallback).
METHODS = ("on_optimization_start", "on_optimization_end", "on_iteration_start", "on_iteration_end",
           "on_candidate_selected", "on_minibatch_sampled", "on_evaluation_start", "on_evaluation_end",
           "on_evaluation_skipped", "on_valset_evaluated", "on_reflective_dataset_built", "on_proposal_start",
           "on_proposal_end", "on_candidate_accepted", "on_candidate_rejected", "on_merge_attempted",
           "on_merge_accepted", "on_merge_rejected", "on_pareto_front_updated", "on_state_saved",
           "on_budget_updated", "on_error")


def check_callbacks(callbacks: Sequence[Any]) -> list[Any]:
    """The callback objects, refusing one that implements none of gepa's callback methods."""
    out = list(callbacks)
    for cb in out:
        if not any(callable(getattr(cb, m, None)) for m in METHODS):
            raise TypeError(f"{cb!r} implements none of the gepa callback methods ({', '.join(METHODS[:4])}, ...).")
    return out


class GepaCallbacks:
    def __init__(self, callbacks: Sequence[Any], state: State, view: Callable[[int], StateView],
                 trainset: Sequence[Any], valset_size: int, run_dir: str | None = None):
        self.callbacks = list(callbacks)
        self.state = state
        self.view = view
        self.trainset = DataView(trainset)
        self.valset_size = valset_size
        self.run_dir = run_dir
        self.started: dict[int, ev.ProposalStarted] = {}
        self.reflections: dict[int, ev.ReflectionFinished] = {}
        self.added: dict[int, ev.CandidateAdded] = {}
        self.validated: dict[int, ev.CandidateValidated] = {}
        self.rollouts: dict[RolloutKey, Rollout] = {}
        self.front: set[int] = set()
        self.open: tuple[int, bool] | None = None  # the iteration being reported, and whether it added a candidate
        self.used = 0
        self.last_iteration = 0

    def notify(self, method: str, event: dict[str, Any]) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, method, None)
            if fn is None:
                continue
            try:
                fn(event)
            except Exception as exc:  # a callback must not take the optimization down with it
                logger.warning("Callback %r failed on %s: %s", cb, method, exc)

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.ProposalStarted):
            self.started[event.seq] = event
        elif isinstance(event, ev.RolloutFinished):
            self.rollouts[event.key] = event.rollout
        elif isinstance(event, ev.ReflectionFinished):
            self.reflections[event.seq] = event
        elif isinstance(event, ev.CandidateAdded):
            self.added[event.seq] = event
        elif isinstance(event, ev.CandidateValidated):
            self.validated[event.idx] = event
        elif isinstance(event, ev.BudgetUpdated):
            delta, self.used = event.used - self.used, event.used
            remaining = None if event.max_metric_calls is None else max(0, event.max_metric_calls - event.used)
            self.notify("on_budget_updated", {"iteration": self.last_iteration, "metric_calls_used": event.used,
                                              "metric_calls_delta": delta, "metric_calls_remaining": remaining})
        elif isinstance(event, ev.RunStarted):
            self.notify("on_optimization_start", {"seed_candidate": dict(event.seed_candidate),
                                                  "trainset_size": event.train_size, "valset_size": event.val_size,
                                                  "config": dict(event.config)})
        elif isinstance(event, ev.ProposalCommitted):
            self._committed(event)
        elif isinstance(event, ev.RunFinished):
            self._end_iteration()
            self.notify("on_optimization_end", {"best_candidate_idx": event.best_idx,
                                                "total_iterations": self.last_iteration,
                                                "total_metric_calls": event.total_metric_calls,
                                                "final_state": self.view(self.last_iteration - 1)})
        elif isinstance(event, ev.RunFailed):
            error = event.error if isinstance(event.error, Exception) else RuntimeError(str(event.error))
            self.notify("on_error", {"iteration": self.last_iteration, "exception": error, "will_continue": False})

    # ------------------------------------------------------------------ one committed proposal

    def _committed(self, event: ev.ProposalCommitted) -> None:
        started = self.started.pop(event.seq, None)
        reflection = self.reflections.pop(event.seq, None)
        added = self.added.pop(event.seq, None)
        if event.replayed or started is None:
            return
        if event.kind in ("seed", "final"):
            self._end_iteration()
        if event.kind == "seed":
            if added is not None:
                self.front = self._front()
                self._valset_evaluated(0, added.idx, [], True)
            return
        if event.kind == "final":
            idx = event.parent_ids[0]
            if idx in self.validated:
                self._valset_evaluated(self.last_iteration, idx, self.state.parents[idx],
                                       self.state.best_idx() == idx, self.validated.pop(idx).val_scores)
            return
        iteration = started.iteration + 1
        if self.open is not None and self.open[0] != iteration:
            self._end_iteration()
        if self.open is None:
            self.last_iteration = max(self.last_iteration, iteration)
            if self.run_dir is not None:
                self.notify("on_state_saved", {"iteration": iteration, "run_dir": self.run_dir})
            self.notify("on_iteration_start", {"iteration": iteration, "state": self.view(started.iteration),
                                               "trainset_loader": self.trainset})
            self.open = (iteration, False)
        if event.kind == "merge":
            accepted = self._merge(iteration, event, added)
        else:
            accepted = self._reflective(iteration, started, event, reflection, added)
        self.open = (iteration, self.open[1] or accepted)

    def _end_iteration(self) -> None:
        """The iteration being reported is over (its proposals, one or a sampled group, have all committed)."""
        if self.open is not None:
            iteration, accepted = self.open
            self.open = None
            self.notify("on_iteration_end", {"iteration": iteration, "state": self.view(iteration - 1),
                                             "proposal_accepted": accepted})

    def _reflective(self, iteration: int, started: ev.ProposalStarted, event: ev.ProposalCommitted,
                    reflection: ev.ReflectionFinished | None, added: ev.CandidateAdded | None) -> bool:
        outcome, parent = event.outcome, started.parent_ids[0]
        state = self.state
        ids = started.minibatch
        self.notify("on_candidate_selected", {"iteration": iteration, "candidate_idx": parent,
                                              "candidate": dict(state.candidates[parent]),
                                              "score": state.mean(parent)})
        self.notify("on_minibatch_sampled", {"iteration": iteration, "minibatch_ids": list(ids),
                                             "trainset_size": len(self.trainset)})
        grand = [p for p in state.parents[parent] if p is not None]
        self._evaluation(iteration, parent, grand, state.hashes[parent], ids, parent == 0)
        if outcome.status == "skipped_perfect":
            self.notify("on_evaluation_skipped", {"iteration": iteration, "candidate_idx": parent,
                                                  "reason": "all_scores_perfect",
                                                  "scores": list(outcome.parent_scores or []),
                                                  "is_seed_candidate": parent == 0})
            return False
        if reflection is None:
            return False
        dataset = {k: [dict(r) for r in v] for k, v in (reflection.dataset or {}).items()}
        self.notify("on_reflective_dataset_built", {"iteration": iteration, "candidate_idx": parent,
                                                    "components": list(reflection.components), "dataset": dataset})
        self.notify("on_proposal_start", {"iteration": iteration, "parent_candidate": dict(state.candidates[parent]),
                                          "components": list(reflection.components), "reflective_dataset": dataset})
        if not reflection.new_texts:
            return False
        self.notify("on_proposal_end", {"iteration": iteration, "new_instructions": dict(reflection.new_texts),
                                        "prompts": {}, "raw_lm_outputs": {}})
        if outcome.child_scores is None or outcome.child is None:
            return False
        self._evaluation(iteration, None, [parent], candidate_hash(outcome.child), ids, False)
        old, new = sum(outcome.parent_scores or []), sum(outcome.child_scores)
        if added is None:
            self.notify("on_candidate_rejected", {"iteration": iteration, "old_score": old, "new_score": new,
                                                  "reason": outcome.reason or outcome.status})
            return False
        self._added(iteration, added)
        self.notify("on_candidate_accepted", {"iteration": iteration, "new_candidate_idx": added.idx,
                                              "new_score": new, "parent_ids": [parent]})
        return True

    def _merge(self, iteration: int, event: ev.ProposalCommitted, added: ev.CandidateAdded | None) -> bool:
        outcome, parents = event.outcome, list(event.parent_ids)
        if outcome.child is None:
            return False
        self.notify("on_merge_attempted", {"iteration": iteration, "parent_ids": parents,
                                           "merged_candidate": dict(outcome.child)})
        if added is None:
            self.notify("on_merge_rejected", {"iteration": iteration, "parent_ids": parents,
                                              "reason": outcome.reason or outcome.status})
            return False
        self._added(iteration, added)
        self.notify("on_merge_accepted", {"iteration": iteration, "new_candidate_idx": added.idx,
                                          "parent_ids": parents})
        self.notify("on_candidate_accepted", {"iteration": iteration, "new_candidate_idx": added.idx,
                                              "new_score": sum(outcome.child_scores or []), "parent_ids": parents})
        return True

    def _evaluation(self, iteration: int, idx: int | None, parent_ids: list[int], h: str, ids: list[int],
                    seed: bool) -> None:
        inputs = self.trainset.fetch(ids)
        self.notify("on_evaluation_start", {"iteration": iteration, "candidate_idx": idx, "batch_size": len(ids),
                                            "capture_traces": True, "parent_ids": parent_ids, "inputs": inputs,
                                            "is_seed_candidate": seed})
        rollouts = [self.rollouts.get(RolloutKey(h, "train", i)) for i in ids]
        trajectories = [r.trajectory if r is not None else None for r in rollouts]
        self.notify("on_evaluation_end", {
            "iteration": iteration, "candidate_idx": idx, "parent_ids": parent_ids, "is_seed_candidate": seed,
            "scores": [r.score if r is not None else None for r in rollouts],
            "outputs": [r.output if r is not None else None for r in rollouts],
            "trajectories": trajectories, "has_trajectories": any(t is not None for t in trajectories),
            "objective_scores": _objectives(rollouts)})

    def _added(self, iteration: int, added: ev.CandidateAdded) -> None:
        before, self.front = self.front, self._front()
        self.notify("on_pareto_front_updated", {"iteration": iteration, "new_front": sorted(self.front),
                                                "displaced_candidates": sorted(before - self.front)})
        self._valset_evaluated(iteration, added.idx, added.parent_ids, added.is_best)

    def _valset_evaluated(self, iteration: int, idx: int, parent_ids: list[int], is_best: bool,
                          scores: dict[int, float] | None = None) -> None:
        scores = dict(self.state.val_scores[idx] if scores is None else scores)
        h = self.state.hashes[idx]
        outputs = {vid: r.output for vid in scores
                   if (r := self.rollouts.pop(RolloutKey(h, "val", vid), None)) is not None}
        self.notify("on_valset_evaluated", {
            "iteration": iteration, "candidate_idx": idx, "candidate": dict(self.state.candidates[idx]),
            "scores_by_val_id": scores, "average_score": sum(scores.values()) / len(scores) if scores else 0.0,
            "num_examples_evaluated": len(scores), "total_valset_size": self.valset_size,
            "parent_ids": [p for p in parent_ids if p is not None], "is_best_program": is_best,
            "outputs_by_val_id": outputs or None})

    def _front(self) -> set[int]:
        return {i for members in self.state.front_mapping().values() for i in members}


def _objectives(rollouts: list[Rollout | None]) -> list[dict[str, float]] | None:
    found = [getattr(r, "objectives", None) if r is not None else None for r in rollouts]
    return [dict(o or {}) for o in found] if any(found) else None
