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
        self._launched: set[Job] = set()
        self._stopped_by: BaseException | None = None

    def start(self, adapter: Any, max_in_flight: int, seed_candidate: Candidate) -> None:
        if not inspect.iscoroutinefunction(getattr(adapter, "aevaluate", None)):
            raise ConfigurationError(
                f"backend='async' needs an adapter with `async def aevaluate(batch, candidate, capture_traces)`; "
                f"{type(adapter).__name__} has none. Use backend='threads'.")
        super().start(adapter, max_in_flight, seed_candidate)
        self._stopped_by = None
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_quiet_about_interrupts)
        self._thread = threading.Thread(target=self._serve, name="gepa-eval-loop", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._loop.run_forever()
        except BaseException as exc:  # KeyboardInterrupt or SystemExit in a task the program started stops the
            self._stopped_by = exc  # loop: the rollouts launched on it end with that error
            for job in list(self._launched):
                self.finished(job, error=exc)

    def launch(self, job: Job) -> None:
        self._launched.add(job)
        if self._stopped_by is not None:
            self.finished(job, error=self._stopped_by)
        else:
            self._loop.call_soon_threadsafe(self._spawn, job)

    def _spawn(self, job: Job) -> None:
        task = self._loop.create_task(self._run(job), context=job.context)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def finished(self, job: Job, result: Any = None, error: BaseException | None = None) -> None:
        self._launched.discard(job)
        super().finished(job, result, error)

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
        # Unless the loop stopped by itself (see _serve), whatever is still on it is cancelled; else it is
        # abandoned with the loop (asyncio logs the tasks it destroys).
        if self._stopped_by is None:
            cancelled = asyncio.run_coroutine_threadsafe(_cancel_tasks(), loop)
            while self._stopped_by is None:
                try:
                    cancelled.result(0.1)
                    break
                except TimeoutError:
                    continue
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join()
        loop.close()


async def _cancel_tasks() -> None:
    """Cancel every task still on the running loop (the rollouts' and any the program started), each in its own
    context, and stop the loop's thread pool."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_default_executor()


def _quiet_about_interrupts(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's exception handler: a KeyboardInterrupt or SystemExit left in a task (the run stops with it
    anyway) is not reported again when the task is collected."""
    if isinstance(context.get("exception"), KeyboardInterrupt | SystemExit):
        return
    loop.default_exception_handler(context)
