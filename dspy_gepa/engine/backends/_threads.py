"""``backend="threads"`` (the default): each rollout runs ``adapter.evaluate`` on a thread of this process.

Right for programs that wait on LM providers with a modest number of calls in flight. CPU-bound Python
work runs one rollout at a time however many threads there are (the GIL): use a process-based backend
(:class:`~dspy_gepa.engine.backends.RayBackend`) for that, and ``backend="async"`` for hundreds of LM
calls in flight.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dspy_gepa.engine.backends._base import Backend, Job, rollout_of
from dspy_gepa.engine.types import Candidate


class ThreadBackend(Backend):
    name = "threads"

    def __init__(self) -> None:
        super().__init__()
        self._pool: ThreadPoolExecutor | None = None

    def start(self, adapter: Any, max_in_flight: int, seed_candidate: Candidate) -> None:
        super().start(adapter, max_in_flight, seed_candidate)
        self._pool = ThreadPoolExecutor(max_in_flight, thread_name_prefix="gepa-eval")

    def launch(self, job: Job) -> None:
        self._pool.submit(job.context.run, self.settle, job, lambda: rollout_of(
            self.adapter.evaluate([job.example], job.candidate, capture_traces=job.capture_traces)))

    def close(self) -> None:
        super().close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
