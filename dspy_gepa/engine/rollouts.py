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
from dspy_gepa.engine.ledger import Ledger
from dspy_gepa.engine.proposals import Evaluate, Run
from dspy_gepa.engine.replay import JournalContents, Payload, RecordedRollout
from dspy_gepa.engine.types import Candidate, Rollout, RolloutKey, candidate_hash


class Encoded:
    """An output or trajectory still in its journal form; decoded only if reflection needs it."""

    __slots__ = ("payload", "name")

    def __init__(self, payload: Payload, name: str):
        self.payload = payload
        self.name = name

    def data(self) -> Any:
        return self.payload.get(self.name)


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
        run.missing = set(run.want)
        counted = self.ledger.dispatched
        new: list[RolloutKey] = []
        for key in dict.fromkeys(run.want):
            run.keys.add(key)
            if not self.ledger.committed_before(key, run.start_commits):
                run.fresh.add(key)
            if key in self.results:
                self._arrived(run, key, self.results[key])
            elif key in self.waiters:
                self.waiters[key].append(run)
            elif key in self.journal.rollouts:
                self.ledger.dispatch()
                rollout = self.decode(self.journal.rollouts.pop(key), key.split)  # from now on in results
                self.bus.emit(ev.RolloutFinished(key=key, rollout=rollout, seq=run.plan.seq, replayed=True))
                self._arrived(run, key, self._keep(key, rollout))
            else:
                self.ledger.dispatch()
                self.waiters[key] = [run]
                new.append(key)
        self.ledger.check_within_reservation(run.plan, len(run.fresh))
        if self.ledger.dispatched > counted:  # one update per request, however many rollouts it counted
            self.bus.emit(ev.BudgetUpdated(used=self.ledger.dispatched, max_metric_calls=self.ledger.max_metric_calls,
                                           reserved=self.ledger.reserved()))
        if new:
            self.dispatch(req.candidate, new, [self.examples[k.split][k.example] for k in new], req.split == "train")
        self._maybe_complete(run)

    @staticmethod
    def _arrived(run: Run, key: RolloutKey, rollout: Rollout) -> None:
        run.got[key] = rollout
        run.missing.discard(key)

    def done(self, key: RolloutKey, rollout: Rollout) -> None:
        """A dispatched rollout's result arrived: record it and hand it to every proposal waiting for it."""
        waiting = self.waiters.pop(key)
        self.bus.emit(ev.RolloutFinished(key=key, rollout=rollout, seq=waiting[0].plan.seq))
        self._keep(key, rollout)
        for run in waiting:
            if key in run.missing:
                self._arrived(run, key, rollout)
                self._maybe_complete(run)

    def _maybe_complete(self, run: Run) -> None:
        if not run.missing:
            self.on_ready(run, [run.got[k] for k in run.want])

    def _keep(self, key: RolloutKey, rollout: Rollout) -> Rollout:
        """Remember a rollout for reuse. Validation outputs are only needed for ``track_best_outputs``
        (the journal has them anyway), so they are not kept in memory otherwise."""
        if key.split == "val" and not self.keep_val_outputs and rollout.output is not None:
            rollout = dataclasses.replace(rollout, output=None)
        self.results[key] = rollout
        return rollout

    def decode(self, recorded: RecordedRollout, split: str) -> Rollout:
        """A rollout from its journal record. A training rollout's output and trajectory stay encoded until
        a reflection reads them (:meth:`materialized`); a validation rollout's output is decoded when it is
        kept (``track_best_outputs``)."""
        payload, output, trajectory = recorded.payload, None, None
        if payload is not None and split == "val":
            output = self.codec.decode_output(payload.get("output"))
        elif payload is not None:
            output, trajectory = Encoded(payload, "output"), Encoded(payload, "trajectory")
        return Rollout(score=recorded.score, output=output, objectives=recorded.objectives, feedback=recorded.feedback,
                       error=recorded.error, usage=recorded.usage, trajectory=trajectory)

    def trajectory(self, rollout: Rollout, train_id: int) -> Any:
        """The rollout's trajectory, decoded from its journal form if it came from there."""
        t = rollout.trajectory
        if not isinstance(t, Encoded):
            return t
        data = t.data()
        return self.codec.decode_trajectory(data, self.examples["train"][train_id]) if data is not None else None

    def materialized(self, rollout: Rollout, train_id: int) -> Rollout:
        """The rollout with its output and trajectory decoded (what reflection reads)."""
        output = rollout.output
        if isinstance(output, Encoded):
            output = self.codec.decode_output(output.data())
        return dataclasses.replace(rollout, output=output, trajectory=self.trajectory(rollout, train_id))
