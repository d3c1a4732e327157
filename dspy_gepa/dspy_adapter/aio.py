"""Running a coroutine to its end from synchronous code: an async metric on a thread or a Ray worker, or
a program with only an async path (``aforward``) run by the threads backend."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any


def run_sync(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``coroutine``'s result. On a thread with no running event loop (the rollout threads, a Ray worker)
    it gets a loop of its own; from inside a running loop it runs on a helper thread, with this context."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome["value"] = context.run(asyncio.run, coroutine)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="dspy-gepa-run-sync")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
