"""Rollouts: each ``(candidate hash, split, example)`` is run at most once.

A proposal's :class:`~dspy_gepa.engine.proposals.Evaluate` request is served key by key: from memory
(a rollout already recorded), by waiting on a rollout already in flight, from the journal of an earlier
session (replayed with ``replayed=True``, no LM call), or else by dispatching a new rollout: the new keys
of a request go to the backend (:mod:`~dspy_gepa.engine.backends`) as one batch. Every dispatch and replay is
counted on the :class:`~dspy_gepa.engine.ledger.Ledger` before it happens. When all the keys of a request
have arrived, the proposal is handed back to the engine with its results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from dspy_gepa.engine import events as ev
from dspy_gepa.engine.journal import JournalContents
from dspy_gepa.engine.ledger import Ledger
from dspy_gepa.engine.proposals import Evaluate, Run
from dspy_gepa.engine.types import Candidate, Rollout, RolloutKey, candidate_hash


class Encoded:
    """A trajectory still in its journal form; decoded only if reflection needs it."""

    __slots__ = ("data",)

    def __init__(self, data: Any):
        self.data = data


#: ``dispatch(candidate, keys, examples, capture_traces)``: run the rollouts ``keys`` (of ``candidate`` on
#: ``examples``) on the backend, and report each key's result when it arrives.
Dispatch = Callable[[Candidate, list[RolloutKey], list[Any], bool], None]


class Rollouts:
    """The rollout cache, the rollouts in flight and their waiting proposals, and journal replay."""

    def __init__(self, adapter: Any, codec: Any, trainset: Sequence[Any], valset: Sequence[Any], ledger: Ledger,
                 bus: ev.EventBus, *, keep_val_outputs: bool, on_ready: Callable[[Run, Any], None]):
        self.adapter = adapter
        self.codec = codec
        self.examples = {"train": trainset, "val": valset}
        self.ledger = ledger
        self.bus = bus
        self.keep_val_outputs = keep_val_outputs
        self.on_ready = on_ready
        self.results: dict[RolloutKey, Rollout] = {}
        self.waiters: dict[RolloutKey, list[Run]] = {}
        self.journal = JournalContents()
        self.dispatch: Dispatch | None = None

    @property
    def recorded(self) -> int:
        """Rollouts whose results arrived (run in this session or replayed from the journal)."""
        return len(self.results)

    def request(self, run: Run, req: Evaluate) -> None:
        h = candidate_hash(req.candidate)
        run.want = [RolloutKey(h, req.split, i) for i in req.ids]
        run.got = {}
        new: list[RolloutKey] = []
        for key in dict.fromkeys(run.want):
            run.keys.add(key)
            if not self.ledger.committed_before(key, run.start_commits):
                run.fresh.add(key)
            if key in self.results:
                run.got[key] = self.results[key]
            elif key in self.waiters:
                self.waiters[key].append(run)
            elif key in self.journal.rollouts:
                self._count()
                rollout = self.decode(self.journal.rollouts[key], with_output=key.split == "train"
                                      or self.keep_val_outputs)
                self.bus.emit(ev.RolloutFinished(key=key, rollout=rollout, seq=run.plan.seq, replayed=True))
                run.got[key] = self._keep(key, rollout)
            else:
                self._count()
                self.waiters[key] = [run]
                new.append(key)
        self.ledger.check_within_reservation(run.plan, len(run.fresh))
        if new:
            self.dispatch(req.candidate, new, [self.examples[k.split][k.example] for k in new], req.split == "train")
        self._maybe_complete(run)

    def done(self, key: RolloutKey, rollout: Rollout) -> None:
        """A dispatched rollout's result arrived: record it and hand it to every proposal waiting for it."""
        waiting = self.waiters.pop(key)
        self.bus.emit(ev.RolloutFinished(key=key, rollout=rollout, seq=waiting[0].plan.seq))
        self._keep(key, rollout)
        for run in waiting:
            if key in run.want and key not in run.got:
                run.got[key] = rollout
                self._maybe_complete(run)

    def _count(self) -> None:
        used = self.ledger.dispatch()
        self.bus.emit(ev.BudgetUpdated(used=used, max_metric_calls=self.ledger.max_metric_calls,
                                       reserved=self.ledger.reserved()))

    def _maybe_complete(self, run: Run) -> None:
        if all(k in run.got for k in run.want):
            self.on_ready(run, [run.got[k] for k in run.want])

    def _keep(self, key: RolloutKey, rollout: Rollout) -> Rollout:
        """Remember a rollout for reuse. Validation outputs are only needed for ``track_best_outputs``
        (the journal has them anyway), so they are not kept in memory otherwise."""
        if key.split == "val" and not self.keep_val_outputs and rollout.output is not None:
            rollout = dataclasses.replace(rollout, output=None)
        self.results[key] = rollout
        return rollout

    def decode(self, record: dict[str, Any], with_output: bool = True) -> Rollout:
        output = self.codec.decode_output(record.get("output")) if with_output else None
        return Rollout(score=float(record["score"]), output=output, objectives=record.get("objectives"),
                       feedback=record.get("feedback"), error=record.get("error"), usage=record.get("usage"),
                       trajectory=Encoded(record["trajectory"]) if record.get("trajectory") is not None else None)

    def trajectory(self, rollout: Rollout, train_id: int) -> Any:
        """The rollout's trajectory, decoded from its journal form if it came from there."""
        t = rollout.trajectory
        return self.codec.decode_trajectory(t.data, self.examples["train"][train_id]) if isinstance(t, Encoded) else t

    def output(self, candidate_hash_: str, val_id: int) -> Any:
        rollout = self.results.get(RolloutKey(candidate_hash_, "val", val_id))
        return rollout.output if rollout is not None else None
