"""``backend="async"``: each rollout is a coroutine (``await adapter.aevaluate(...)``) on one event loop.

The loop runs on a thread of its own, so the engine's driver thread is untouched; ``max_in_flight``
(``num_threads``) coroutines run at once, and hundreds of LM calls can wait on providers without a
thread each. The adapter decides what its coroutine does (the DSPy adapter calls ``program.acall`` and
DSPy's async LM path); an adapter without ``aevaluate`` cannot use this backend.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any

from dspy_gepa.engine.backends._base import Backend, Job, rollout_of
from dspy_gepa.engine.types import Candidate
from dspy_gepa.exceptions import ConfigurationError


class AsyncBackend(Backend):
    name = "async"

    def __init__(self) -> None:
        super().__init__()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()

    def start(self, adapter: Any, max_in_flight: int, seed_candidate: Candidate) -> None:
        if not inspect.iscoroutinefunction(getattr(adapter, "aevaluate", None)):
            raise ConfigurationError(
                f"backend='async' needs an adapter with `async def aevaluate(batch, candidate, capture_traces)`; "
                f"{type(adapter).__name__} has none. Use backend='threads'.")
        super().start(adapter, max_in_flight, seed_candidate)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="gepa-eval-loop", daemon=True)
        self._thread.start()

    def launch(self, job: Job) -> None:
        self._loop.call_soon_threadsafe(self._spawn, job)

    def _spawn(self, job: Job) -> None:
        task = self._loop.create_task(self._run(job), context=job.context)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job) -> None:
        try:
            batch = await self.adapter.aevaluate([job.example], job.candidate, capture_traces=job.capture_traces)
            result = rollout_of(batch)
        except asyncio.CancelledError as exc:
            self.finished(job, error=exc)
            raise
        except BaseException as exc:  # not re-raised: KeyboardInterrupt in a task would stop the loop itself
            self.finished(job, error=exc)
        else:
            self.finished(job, result)

    def close(self) -> None:
        super().close()
        loop, self._loop = self._loop, None
        if loop is None:
            return
        if not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._cancel_tasks(), loop).result()
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join()
            loop.close()

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.get_running_loop().shutdown_default_executor()
