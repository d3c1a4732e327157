"""The planner: what the next proposal is (reflective, merge or a final validation), how many proposals
may be in flight, whether a speculative one may go on, and when the search stops on its own.

Every decision here reads only committed work (the state, the ledger's committed rollouts, the
:class:`~dspy_gepa.engine.commit.Progress` counters) and the planner's own RNGs, so with any number of
threads the same seed gives the same plans. The RNGs, the minibatch sampler and the screen are seeded
from ``config.seed``; a resumed run reaches the same RNG state by replaying the same plans.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Sequence
from typing import Any

from dspy_gepa.engine.commit import Progress
from dspy_gepa.engine.config import EngineConfig
from dspy_gepa.engine.ledger import Ledger, reflective_worst_case, seed_screened
from dspy_gepa.engine.merge import MergeBook, plan_merge
from dspy_gepa.engine.proposals import Plan
from dspy_gepa.engine.state import State
from dspy_gepa.engine.strategies import (
    COMPONENT_SELECTORS,
    MinibatchSampler,
    ParentSelector,
    call_custom_selector,
    sample_tasks,
)
from dspy_gepa.engine.types import Candidate, Rollout, RolloutKey
from dspy_gepa.engine.view import StateView


class Planner:
    #: Reflective proposals whose acceptance rate sets the concurrency (:meth:`concurrency`).
    ADAPT_WINDOW = 8

    def __init__(self, config: EngineConfig, state: State, ledger: Ledger, progress: Progress, merge_book: MergeBook,
                 trainset: Sequence[Any], val_ids: list[int]):
        self.config = config
        self.state = state
        self.ledger = ledger
        self.progress = progress
        self.merge_book = merge_book
        self.train_size = len(trainset)
        self.val_ids = val_ids
        self.trainset = trainset
        self.rng = random.Random(config.seed)
        self.parent_selector = ParentSelector(config.candidate_selection, state, self.rng)
        self.minibatches = MinibatchSampler(config.batch_sampler, len(trainset), config.minibatch_size,
                                            random.Random(config.seed + 1))
        #: The rest of the current iteration's (parent, minibatch) pairs, and (first seq, size) of its group.
        self.queued: deque[tuple[int, list[int]]] = deque()
        self.group: tuple[int, int] | None = None
        #: Search iterations planned so far (gepa's ``state.i + 1``): merge attempts and reflective proposals.
        self.iterations = 0
        size = config.screen_size(len(val_ids))
        self.screen = sorted(random.Random(config.seed + 2).sample(val_ids, size)) if size < len(val_ids) else []
        #: The seed is screened like a child when the budget could not pay for a proposal otherwise (a resumed
        #: run takes what its journal's first session decided: the engine sets this from the journal's header).
        self.seed_screened = bool(self.screen) and seed_screened(config.max_metric_calls, len(val_ids), size,
                                                                 min(config.minibatch_size, self.train_size))

    def plan_seed(self, candidate: Candidate) -> Plan:
        """Proposal 0: the seed's validation, on every example or (:attr:`seed_screened`) on the screen."""
        screen = self.screen if self.seed_screened else []
        return Plan(seq=0, kind="seed", parent_ids=[], candidate=dict(candidate), screen=screen,
                    reservation=len(screen or self.val_ids))

    def concurrency(self) -> int:
        """How many proposals may be in flight now.

        A proposal planned while others run cannot build on what they find. That costs little when
        most proposals are rejected and a lot when most are accepted, so the limit is about one over
        the acceptance rate of the last proposals: on average about one of the proposals in flight is
        accepted, and when every proposal is accepted they run one at a time, as in the paper's loop.
        It is computed from committed proposals only, so it does not depend on thread timing.
        """
        cap = self.config.max_concurrent_proposals
        if cap == 1 or not self.config.adaptive_concurrency:
            return cap
        recent = self.progress.recent_outcomes[-self.ADAPT_WINDOW:]
        if not recent:
            return 1
        accepted = sum(recent) / len(recent)
        return cap if accepted == 0 else max(1, min(cap, math.floor(1 / accepted)))

    def stop_condition(self) -> str:
        """Why the search should stop now (empty: it should not)."""
        converged = self.progress.converged()
        if converged:
            return converged
        view = self.view(self.iterations - 1)
        for callback in self.config.stop_callbacks:
            if callback(view):
                return f"stop condition {getattr(callback, '__name__', type(callback).__name__)} was met"
        return ""

    def view(self, iteration: int) -> StateView:
        """The state as user objects see it, at search iteration ``iteration`` (gepa's ``state.i``)."""
        return StateView(self.state, iteration, self.ledger.committed)

    def plan(self, seq: int) -> Plan:
        """The next proposal of the search: a merge when one is due and possible, else a reflective one
        (the next of the iteration's group when a sampling strategy planned several)."""
        if self.queued:
            return self._reflective(seq, *self.queued.popleft())
        self.iterations += 1
        self.group = None
        merge = self._plan_merge(seq)
        if merge is not None:
            return merge
        tasks = sample_tasks(self.config.sampling, self.view(self.iterations - 1), self.parent_selector,
                             self.minibatches, self.trainset)
        if len(tasks) > 1:
            self.group = (seq, len(tasks))
            self.queued.extend(tasks[1:])
        return self._reflective(seq, *tasks[0])

    def _reflective(self, seq: int, parent: int, minibatch: list[int]) -> Plan:
        state, cfg = self.state, self.config
        if not 0 <= parent < len(state.candidates):
            raise ValueError(f"the sampling strategy chose candidate {parent!r}; there are {len(state.candidates)}")
        components: list[str] = []  # a custom selector sees the parent's rollouts first (custom_components)
        if isinstance(cfg.component_selector, str):
            components = COMPONENT_SELECTORS[cfg.component_selector](state, parent)
            state.advance_round_robin(parent)
        parent_hash = state.hashes[parent]
        uncached = sum(1 for i in set(minibatch) if RolloutKey(parent_hash, "train", i) not in self.ledger.committed_at)
        group, size = self.group if self.group is not None else (None, 1)
        return Plan(seq=seq, kind="reflective", iteration=self.iterations - 1, parent_ids=[parent],
                    candidate=dict(state.candidates[parent]), minibatch=minibatch, components=components,
                    pool_size=len(state.candidates),
                    parent_val_scores=[dict(state.val_scores[parent])], **self._validation_snapshot(),
                    reservation=reflective_worst_case(uncached, len(set(minibatch)), self._validation_size()),
                    group=group, group_size=size)

    def still_valid(self, plan: Plan) -> bool:
        """Whether a speculative proposal, about to evaluate its child, may go on.

        With ``speculative`` search, proposals run their parent's rollouts and reflection while earlier ones
        are in flight, and wait to evaluate their child until every earlier proposal has committed. If a
        candidate was added meanwhile and the proposal's parent is no longer among the candidates parents
        are drawn from, the proposal is superseded: it would spend its child's rollouts on a lineage the
        search has left. Called when the proposal is next to commit, so it reads committed work only."""
        if not self.config.speculative or len(self.state.candidates) == plan.pool_size:
            return True
        return plan.parent_ids[0] in self.state.pareto_candidates()

    def _plan_merge(self, seq: int) -> Plan | None:
        state, cfg, book = self.state, self.config, self.merge_book
        if not (cfg.use_merge and book.due > 0 and self.progress.last_commit_added
                and book.attempts < cfg.max_merge_invocations):
            return None
        self.progress.last_commit_added = False
        merge = plan_merge(state, book, self.rng, cfg.merge_subsample_size)
        if merge is None:
            return None
        book.due -= 1
        book.attempts += 1
        return Plan(seq=seq, kind="merge", iteration=self.iterations - 1, parent_ids=list(merge.parents),
                    candidate=merge.candidate,
                    parent_val_scores=[dict(state.val_scores[p]) for p in merge.parents],
                    **self._validation_snapshot(), reservation=self._validation_size(), merge=merge)

    def plan_final(self, seq: int) -> Plan | None:
        """The best screened candidate not yet validated on every example, if it might beat the best
        validated one (compared on the screen, where both have scores). With ``track_best_outputs``
        (``keep_val_outputs``) every screened candidate is, best first, while the budget allows: its
        outputs on every example may be the best ones there."""
        state = self.state
        if not self.screen:
            return None
        on_screen = {i: sum(state.val_scores[i][v] for v in self.screen) for i in range(len(state.candidates))}
        best_full = state.best_idx()
        pending = [i for i in on_screen if not state.is_full(i)
                   and (self.config.keep_val_outputs or on_screen[i] >= on_screen[best_full])]
        if not pending:
            return None
        idx = max(pending, key=lambda i: (on_screen[i], -i))
        return Plan(seq=seq, kind="final", parent_ids=[idx], candidate=dict(state.candidates[idx]),
                    parent_val_scores=[dict(state.val_scores[idx])],
                    reservation=len(self.val_ids) - len(state.val_scores[idx]))

    def custom_components(self, plan: Plan, trajectories: Sequence[Any], rollouts: Sequence[Rollout]) -> list[str]:
        """The components a user's component selector picks for ``plan``, given the parent's rollouts."""
        return call_custom_selector(self.config.component_selector, self.state, self.view(plan.iteration),
                                    list(trajectories), [r.score for r in rollouts], plan.parent_ids[0])

    def _validation_size(self) -> int:
        return len(self.screen or self.val_ids)

    def _validation_snapshot(self) -> dict[str, Any]:
        """What ``proposals.validate`` compares a child with, frozen when the proposal is planned."""
        if not self.screen:
            return {}
        return {"screen": self.screen, "front_best": self.state.best_score_per_example()}
