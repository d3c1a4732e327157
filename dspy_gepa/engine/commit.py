"""In-order commit: a finished proposal's outcome becomes part of the state.

Proposals commit strictly in order of their sequence number, so what any later proposal sees never
depends on thread timing. Committing pays the proposal's rollouts and reflection into the ledger, adds
or completes candidates, emits the events subscribers see, and keeps the counters the planner reads
(:class:`Progress`): the failure streak that stops a run whose reflections are unusable, the idle streak
that ends a converged search, recent acceptances, and when a merge is due.

No spin: a search that stops spending metric calls must end, however its proposals interleave. Unusable
and idle proposals break each other's streaks, so a third streak counts the reflective proposals in a
row that spent no metric call, whatever their status; at ``idle_limit + max_consecutive_failures`` of
them the search ends — with :class:`ReflectionError` if ``max_consecutive_failures`` of them were
unusable reflections, else as converged (:meth:`Progress.converged`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from dspy_gepa.engine import events as ev
from dspy_gepa.engine.ledger import Ledger
from dspy_gepa.engine.merge import MergeBook
from dspy_gepa.engine.proposals import Plan, Run
from dspy_gepa.engine.rollouts import Rollouts
from dspy_gepa.engine.state import State
from dspy_gepa.engine.types import ProposalOutcome, RolloutKey, candidate_hash
from dspy_gepa.engine.usage import combine, known_cost, priced_cost
from dspy_gepa.exceptions import ConfigurationError, ProgramError, ReflectionError

logger = logging.getLogger(__name__)


def idle_limit(train_size: int, minibatch_size: int) -> int:
    """Idle proposals in a row (every minibatch example already perfect, no new text) after which the
    search has converged: enough to have seen every training example about twice."""
    return max(10, 2 * math.ceil(train_size / minibatch_size))


@dataclass
class Progress:
    """What committed proposals tell the planner. ``unpaid`` lists the latest reflective proposals in a
    row that spent no metric call (see the module docstring); it ends the search at ``unpaid_limit``."""

    idle_limit: int = 10
    unpaid_limit: int = 15
    last_commit_added: bool = False
    consecutive_failures: list[str] = field(default_factory=list)
    consecutive_idle: int = 0
    unpaid: list[str] = field(default_factory=list)
    unpaid_failures: int = 0
    recent_outcomes: list[bool] = field(default_factory=list)
    tried: dict[str, int] = field(default_factory=dict)  # candidate hash -> the commit that first tried it
    proposals: list[dict[str, Any]] = field(default_factory=list)
    discovery_costs: list[float] = field(default_factory=list)

    def converged(self) -> str:
        """Why the search has converged (empty: it has not)."""
        if self.consecutive_idle >= self.idle_limit:
            return (f"converged: the last {self.consecutive_idle} proposals found every minibatch example already "
                    "perfect, or proposed no new text")
        if len(self.unpaid) >= self.unpaid_limit:
            return (f"converged: the last {len(self.unpaid)} proposals spent no metric call ({self.unpaid_failures} "
                    "of them with an unusable reflection, the others finding nothing new to try)")
        return ""


class Committer:
    def __init__(self, state: State, ledger: Ledger, rollouts: Rollouts, merge_book: MergeBook, bus: ev.EventBus, *,
                 use_merge: bool, max_merge_invocations: int, max_consecutive_failures: int, idle_limit: int = 10):
        self.state = state
        self.ledger = ledger
        self.rollouts = rollouts
        self.merge_book = merge_book
        self.bus = bus
        self.use_merge = use_merge
        self.max_merge_invocations = max_merge_invocations
        self.max_consecutive_failures = max_consecutive_failures
        self.progress = Progress(idle_limit=idle_limit, unpaid_limit=idle_limit + max_consecutive_failures)

    def commit(self, run: Run, commit_no: int) -> None:
        plan, outcome = run.plan, run.outcome
        assert outcome is not None
        state, ledger = self.state, self.ledger
        replayed = plan.seq in self.rollouts.journal.commits
        # A candidate is "discovered" once the work that found it is paid; its own validation comes after.
        new_hash = candidate_hash(outcome.child) if outcome.child is not None else None
        if new_hash is not None:
            self.progress.tried.setdefault(new_hash, commit_no)
        own_validation = {k for k in run.keys if k.split == "val" and k.candidate == new_hash}
        paid = [self.rollouts.results[k] for k in sorted(run.keys) if k not in ledger.committed_at]
        usage = combine([*(r.usage for r in paid), run.reflection_usage])
        ledger.spend(usage, reflection=run.reflection_usage)
        for rollout in paid:
            rollout.usage = None  # counted: the journal and the ledger have it
        ledger.commit_rollouts(run.keys - own_validation, commit_no)
        discovered_at = 0 if plan.kind == "seed" else ledger.committed
        ledger.commit_rollouts(own_validation, commit_no)
        new_idx = None
        if plan.kind == "final":
            self._complete_validation(plan, outcome, replayed)
        elif outcome.adds_candidate:
            if plan.kind != "seed" and new_hash in state.index_by_hash:
                outcome = ProposalOutcome("duplicate", "an identical candidate was added while this one was in flight",
                                          parent_scores=outcome.parent_scores, child_scores=outcome.child_scores,
                                          components=outcome.components)
            else:
                new_idx = self._add(plan, outcome, discovered_at, replayed)
        if plan.kind == "seed":
            self._check_seed(run)
        self._bookkeep(plan, outcome, new_idx, spent=len(paid))
        logger.info("Proposal %d (%s, parents %s): %s%s", plan.seq, plan.kind, plan.parent_ids, outcome.status,
                    f" -> candidate #{new_idx}, validation {state.mean(new_idx):.4f}" if new_idx is not None
                    else (f" ({outcome.reason})" if outcome.reason else ""))
        self.progress.proposals.append({"seq": plan.seq, "kind": plan.kind, "status": outcome.status,
                                        "parents": list(plan.parent_ids), "new_candidate": new_idx,
                                        "metric_calls": ledger.committed, "usage": usage,
                                        "cost": known_cost(usage), "total_cost": priced_cost(ledger.spent)})
        self.bus.emit(ev.ProposalCommitted(seq=plan.seq, kind=plan.kind, parent_ids=plan.parent_ids, outcome=outcome,
                                           new_candidate_idx=new_idx, metric_calls=ledger.committed,
                                           usage=usage, total_cost=priced_cost(ledger.spent), replayed=replayed))
        self._check_failures()

    def _add(self, plan: Plan, outcome: ProposalOutcome, discovered_at: int, replayed: bool) -> int:
        state = self.state
        best_before = state.best_idx() if state.candidates else None
        new_idx = state.add(outcome.child, plan.parent_ids, outcome.val_scores, discovered_at, plan.seq, plan.kind,
                            self._objectives(outcome))
        self.progress.discovery_costs.append(priced_cost(self.ledger.spent))
        best = state.best_idx()
        self.bus.emit(ev.CandidateAdded(
            idx=new_idx, candidate=dict(outcome.child), candidate_hash=state.hashes[new_idx],
            parent_ids=plan.parent_ids, val_scores=dict(outcome.val_scores), val_mean=state.mean(new_idx),
            discovered_at=discovered_at, seq=plan.seq, kind=plan.kind, is_best=best == new_idx, replayed=replayed,
            objective_scores=state.objective_means()[new_idx] or None))
        if best != best_before:
            self._best_changed(best, replayed)
        return new_idx

    def _complete_validation(self, plan: Plan, outcome: ProposalOutcome, replayed: bool) -> None:
        idx = plan.parent_ids[0]
        best_before = self.state.best_idx()
        self.state.complete(idx, outcome.val_scores, self._objectives(outcome))
        self.bus.emit(ev.CandidateValidated(idx=idx, val_scores=dict(outcome.val_scores),
                                            val_mean=self.state.mean(idx), replayed=replayed,
                                            objective_scores=self.state.objective_means()[idx] or None))
        best = self.state.best_idx()
        if best != best_before:
            self._best_changed(best, replayed)

    def _best_changed(self, best: int, replayed: bool) -> None:
        self.bus.emit(ev.BestChanged(idx=best, candidate=dict(self.state.candidates[best]),
                                     val_mean=self.state.mean(best), replayed=replayed))

    def _objectives(self, outcome: ProposalOutcome) -> dict[int, dict[str, float]]:
        """The objective scores of the child's validation rollouts (those the metric gave them for)."""
        h = candidate_hash(outcome.child)
        found = {vid: r.objectives for vid in outcome.val_scores
                 if (r := self.rollouts.results.get(RolloutKey(h, "val", vid))) is not None and r.objectives}
        return dict(found)

    def _check_seed(self, run: Run) -> None:
        if self.state.frontier_type != "instance" and not self.state.val_objectives[0]:
            raise ConfigurationError(
                f"frontier_type={self.state.frontier_type!r} keeps fronts per objective, but the metric returned no "
                "objective scores for the seed program. Return ScoreWithFeedback(score=..., feedback=..., "
                "objective_scores={'name': value, ...}) from the metric, or use frontier_type='instance'.")
        errors = [self.rollouts.results[k].error for k in sorted(run.keys)]
        if errors and all(errors):
            raise ProgramError(
                f"The program failed on all {len(errors)} validation examples before any optimization, e.g. "
                f"{errors[0]}. Fix the program, its LM configuration or the examples' input fields (.with_inputs(...) "
                "must name what the program's forward takes) first: GEPA cannot learn from a program that never "
                "produces an output.")

    def _bookkeep(self, plan: Plan, outcome: ProposalOutcome, new_idx: int | None, *, spent: int) -> None:
        progress = self.progress
        added_by_reflection = plan.kind == "reflective" and new_idx is not None
        progress.last_commit_added = added_by_reflection
        if added_by_reflection and self.use_merge and self.merge_book.attempts < self.max_merge_invocations:
            self.merge_book.due += 1
        if spent:
            progress.unpaid.clear()
            progress.unpaid_failures = 0
        elif plan.kind == "reflective":
            progress.unpaid.append(f"proposal {plan.seq}: {outcome.status}: {outcome.reason}")
            progress.unpaid_failures += not outcome.usable
        if plan.kind != "reflective" or outcome.status == "superseded":
            return
        progress.recent_outcomes.append(new_idx is not None)
        # A proposal skipped for a perfect minibatch asked the reflection LM nothing: it neither counts as a
        # failure nor breaks a run of them (or a broken reflection LM hides between perfect minibatches).
        if outcome.status == "skipped_perfect":
            pass
        elif outcome.usable:
            progress.consecutive_failures.clear()
        else:
            progress.consecutive_failures.append(f"proposal {plan.seq}: {outcome.status}: {outcome.reason}")
        progress.consecutive_idle = progress.consecutive_idle + 1 if outcome.idle else 0

    def _check_failures(self) -> None:
        limit = self.max_consecutive_failures
        progress = self.progress
        failures = progress.consecutive_failures
        if len(failures) >= limit:
            self._reflection_error(f"{limit} proposals in a row produced no usable candidate", failures[-limit:])
        if len(progress.unpaid) >= progress.unpaid_limit and progress.unpaid_failures >= limit:
            self._reflection_error(
                f"{progress.unpaid_failures} of the last {len(progress.unpaid)} proposals produced no usable "
                "candidate, and none of them spent a metric call", progress.unpaid)

    @staticmethod
    def _reflection_error(what: str, listing: list[str]) -> None:
        lines = "\n  ".join(listing)
        raise ReflectionError(
            f"{what}, so the run stops instead of returning an unoptimized program as if it were optimized:\n  "
            f"{lines}\nCheck the reflection LM (key, model name, max_tokens large enough for a whole instruction) "
            "or the custom instruction_proposer. Everything paid for so far is kept in log_dir, if one was given.")
