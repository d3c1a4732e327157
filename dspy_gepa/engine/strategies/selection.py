"""Selection: which of one iteration's proposals go on to validation.

A sampling strategy may plan several proposals as one iteration (gepa's ``SameParent(n)``,
``Independent(n)``, ``PxN(p, n)``). They run concurrently, and each stops after its child's minibatch
evaluation until every member of its group has got there or ended; then the selection strategy (gepa's
``AllImprovements`` by default: every proposal the acceptance criterion accepts; ``BestImprovement``,
``TopKImprovements(k)`` or any object with ``select(proposals, state, criterion)``) picks the ones that
continue, from the group in plan order, and the others end rejected. The criterion it is handed judges each
proposal once however often it is asked. A proposal planned alone is judged by the criterion at once.

:class:`GroupJudge` is the engine's side of this: it knows which proposals are waiting and decides when a
group is complete, so the decision depends only on the group's results, never on thread timing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dspy_gepa.engine.strategies.acceptance import ProposalView, reject_reason


@dataclass
class Verdict:
    accepted: bool
    reason: str = ""


class AllImprovements:
    """Every proposal the criterion accepts (gepa's default)."""

    def select(self, proposals: list[ProposalView], state: Any, criterion: Any) -> list[ProposalView]:
        return [p for p in proposals if criterion.should_accept(p, state)]


class _Memo:
    """A criterion that judges each proposal once, however many times it is asked."""

    def __init__(self, criterion: Any):
        self.criterion = criterion
        self.verdicts: dict[int, bool] = {}

    def should_accept(self, proposal: Any, state: Any) -> bool:
        if id(proposal) not in self.verdicts:
            self.verdicts[id(proposal)] = bool(self.criterion.should_accept(proposal, state))
        return self.verdicts[id(proposal)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.criterion, name)


@dataclass
class _Group:
    size: int
    started: int = 0
    ended: int = 0
    waiting: list[tuple[Any, ProposalView]] = field(default_factory=list)


class GroupJudge:
    """Decides acceptance for proposals planned alone, and selection for groups planned together.

    ``state_at(iteration)`` gives the state view the strategies read. Members are identified by the
    engine's runs (``run.plan.group`` names the group, ``run.plan.group_size`` its size)."""

    def __init__(self, criterion: Any, selection: Any, state_at: Callable[[int], Any]):
        self.criterion = criterion
        self.selection = selection if selection is not None else AllImprovements()
        self.state_at = state_at
        self.groups: dict[int, _Group] = {}

    def started(self, run: Any) -> None:
        plan = run.plan
        if plan.group is not None:
            self.groups.setdefault(plan.group, _Group(plan.group_size)).started += 1

    def truncated(self, group: int) -> list[tuple[Any, Verdict]]:
        """The rest of ``group`` will not start (it did not fit the budget): decide with the members running."""
        g = self.groups.get(group)
        if g is None:
            return []
        g.size = g.started
        return self._decide(group)

    def arrived(self, run: Any, proposal: ProposalView) -> list[tuple[Any, Verdict]]:
        """``run`` waits for its verdict; returns the runs that can go on, with theirs."""
        plan = run.plan
        if plan.group is None:
            state = self.state_at(plan.iteration)
            ok = bool(self.criterion.should_accept(proposal, state))
            return [(run, Verdict(ok, "" if ok else reject_reason(self.criterion, proposal, state)))]
        self.groups[plan.group].waiting.append((run, proposal))
        return self._decide(plan.group)

    def ended(self, run: Any) -> list[tuple[Any, Verdict]]:
        """``run`` finished without asking (skipped, reflection failed, duplicate, ...)."""
        plan = run.plan
        if plan.group is None or plan.group not in self.groups:
            return []
        if any(r is run for r, _ in self.groups[plan.group].waiting):
            return []
        self.groups[plan.group].ended += 1
        return self._decide(plan.group)

    def _decide(self, group: int) -> list[tuple[Any, Verdict]]:
        g = self.groups[group]
        if g.started < g.size or len(g.waiting) + g.ended < g.started:
            return []
        del self.groups[group]
        if not g.waiting:
            return []
        waiting = sorted(g.waiting, key=lambda item: item[0].plan.seq)
        proposals = [p for _, p in waiting]
        state = self.state_at(waiting[0][0].plan.iteration)
        criterion = _Memo(self.criterion)
        chosen = {id(p) for p in self.selection.select(list(proposals), state, criterion) if p is not None}
        out = []
        for run, proposal in waiting:
            if id(proposal) in chosen:
                out.append((run, Verdict(True)))
            elif criterion.should_accept(proposal, state):
                out.append((run, Verdict(False, f"passed acceptance but was not selected by "
                                                f"{type(self.selection).__name__}")))
            else:
                out.append((run, Verdict(False, reject_reason(self.criterion, proposal, state))))
        return out
