"""The backend protocol: where rollouts run, and nothing else.

The engine hands a backend a batch of rollouts — one candidate, some examples, whether to capture
traces — and gets one :class:`~concurrent.futures.Future` per example back, each resolving to that
example's :class:`~dspy_gepa.engine.types.Rollout`. Budget reservations, the journal, events and the
commit order stay on the driver (the thread running :meth:`Engine.run`); a backend never decides what to
run, and the results it returns do not depend on which backend produced them.

:class:`Backend` keeps the queue every backend needs, so a concrete backend only says how to start one
rollout (:meth:`Backend.launch`): at most ``max_in_flight`` rollouts run at once, a rollout still queued
can be cancelled (the engine does on Ctrl-C: what is queued is not paid for), one already launched
cannot, and after a rollout failed (a failure fatal for the run: the adapter scores the program's own
errors) nothing queued is launched.
"""

from __future__ import annotations

import contextvars
import math
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from dspy_gepa.engine.types import Candidate, EvaluationBatch, Rollout
from dspy_gepa.exceptions import MetricError


class Halted(Exception):
    """A queued rollout that was not started because another one failed fatally (``cause``)."""

    def __init__(self, cause: BaseException):
        super().__init__(f"not started: another rollout failed with {type(cause).__name__}")
        self.cause = cause


@dataclass(eq=False)
class Job:
    """One rollout handed to a backend: ``candidate`` run on ``example``.

    ``context`` is the driver's context when the rollout was requested (so settings made with context
    managers around ``compile`` apply on threads and coroutines); ``handle`` is what the backend prepared
    for the candidate (:meth:`Backend.prepare`)."""

    candidate: Candidate
    example: Any
    capture_traces: bool
    handle: Any = None
    future: Future = field(default_factory=Future)
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


def rollout_of(batch: EvaluationBatch) -> Rollout:
    """The one rollout of an adapter's answer for one example, refused if it is not one finite score."""
    if len(batch.scores) != 1:
        raise MetricError(f"The adapter returned {len(batch.scores)} scores for one example.")
    score = batch.scores[0]
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise MetricError(f"The score of an example is {score!r}; scores must be finite numbers.")
    return batch.rollout(0)


class Backend(ABC):
    """Runs rollouts. Subclasses implement :meth:`launch`; :meth:`start`, :meth:`prepare` and :meth:`close`
    may be extended (call ``super()``)."""

    #: How the backend is named in logs and in the run's configuration.
    name = "custom"

    def __init__(self) -> None:
        self.adapter: Any = None
        self.max_in_flight = 1
        self.failure: BaseException | None = None
        self._queue: deque[Job] = deque()
        self._running = 0
        self._closed = False
        self._lock = threading.Lock()

    def start(self, adapter: Any, max_in_flight: int, seed_candidate: Candidate) -> None:
        """Get ready to run ``adapter``'s rollouts, at most ``max_in_flight`` at once. Called by the engine
        before anything is spent: a backend that cannot start, or cannot run ``seed_candidate`` (the first
        candidate the run will evaluate), raises :class:`~dspy_gepa.exceptions.ConfigurationError` here."""
        self.adapter = adapter
        self.max_in_flight = max_in_flight
        self.failure = None
        self._closed = False

    def prepare(self, candidate: Candidate) -> Any:
        """Once per batch, on the driver: whatever :meth:`launch` needs for ``candidate`` (see :class:`Job`)."""
        return None

    def run(self, candidate: Candidate, examples: Sequence[Any], capture_traces: bool) -> list[Future]:
        """Queue one rollout of ``candidate`` per example; their futures, in ``examples`` order."""
        handle = self.prepare(candidate) if examples else None
        jobs = [Job(candidate, example, capture_traces, handle) for example in examples]
        with self._lock:
            self._queue.extend(jobs)
        self._fill()
        return [job.future for job in jobs]

    @abstractmethod
    def launch(self, job: Job) -> None:
        """Start running ``job`` without waiting for it; when it ends (on any thread) call
        :meth:`finished` with its :class:`Rollout` or the exception it raised."""

    def settle(self, job: Job, outcome: Callable[[], Rollout]) -> None:
        """Call ``outcome()`` (which runs or fetches ``job``'s rollout) and record what it returned or raised."""
        try:
            result = outcome()
        except BaseException as exc:
            self.finished(job, error=exc)
        else:
            self.finished(job, result)

    def finished(self, job: Job, result: Rollout | None = None, error: BaseException | None = None) -> None:
        """Record how ``job`` ended (the first time only) and launch what the freed slot allows."""
        with self._lock:
            if job.future.done():
                return
            self._running -= 1
            if error is not None and self.failure is None:
                self.failure = error
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)
        self._fill()

    def _fill(self) -> None:
        while True:
            with self._lock:
                if self._closed or not self._queue:
                    return
                failure = self.failure
                if failure is None and self._running >= self.max_in_flight:
                    return
                job = self._queue.popleft()
                if not job.future.set_running_or_notify_cancel():
                    continue  # cancelled while queued
                if failure is None:
                    self._running += 1
            if failure is not None:
                job.future.set_exception(Halted(failure))
                continue
            try:
                self.launch(job)
            except BaseException as exc:
                self.finished(job, error=exc)
                return

    def close(self) -> None:
        """Cancel what is still queued and release the backend's resources. Rollouts already launched may
        finish in the background; their results are no longer read."""
        with self._lock:
            self._closed = True
            queued, self._queue = list(self._queue), deque()
        for job in queued:
            job.future.cancel()
