"""The one rule for what ``backend=`` may be: ``"threads"``, ``"async"``, or a backend object."""

from __future__ import annotations

from typing import Any

from dspy_gepa.engine.backends._async import AsyncBackend
from dspy_gepa.engine.backends._base import Backend
from dspy_gepa.engine.backends._threads import ThreadBackend
from dspy_gepa.exceptions import ConfigurationError

BACKEND_NAMES = {"threads": ThreadBackend, "async": AsyncBackend}


def resolve_backend(backend: Any) -> Backend:
    """A backend object for ``backend`` (a name or an object with the :class:`Backend` methods)."""
    if isinstance(backend, str) and backend in BACKEND_NAMES:
        return BACKEND_NAMES[backend]()
    if not isinstance(backend, str) and all(callable(getattr(backend, m, None)) for m in ("start", "run", "close")):
        return backend
    raise ConfigurationError(
        f"backend must be 'threads', 'async', or a backend object such as dspy_gepa.backends.RayBackend() "
        f"(a subclass of dspy_gepa.backends.Backend); not {backend!r}.")
