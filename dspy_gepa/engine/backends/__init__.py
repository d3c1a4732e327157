"""Where rollouts run: threads (the default), one event loop (``"async"``), or a Ray cluster.

The engine hands a backend batches of rollouts and gets results back (:mod:`._base` has the protocol);
everything else stays on the engine's driver thread. Backends know the engine's adapter protocol and
nothing of DSPy: what a rollout does on a coroutine or on a Ray worker is the adapter's business
(``aevaluate``, ``remote_runner``).
"""

from dspy_gepa.engine.backends._async import AsyncBackend
from dspy_gepa.engine.backends._base import Backend, Halted, Job
from dspy_gepa.engine.backends._ray import RayBackend
from dspy_gepa.engine.backends._resolve import BACKEND_NAMES, resolve_backend
from dspy_gepa.engine.backends._threads import ThreadBackend

__all__ = ["BACKEND_NAMES", "AsyncBackend", "Backend", "Halted", "Job", "RayBackend", "ThreadBackend",
           "resolve_backend"]
