"""Versions of the packages a run used, for the report's footer and the trackers' config.

Read from the installed distributions' metadata. A package without metadata (a source checkout on
``sys.path``) falls back to its module's ``__version__``; ``dspy_gepa`` is then already imported (this
module is part of it), so it is looked up in ``sys.modules`` rather than imported again, which would
hide an import cycle through the package root.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
import sys

#: (distribution, module) of every package whose version a tracker logs.
PACKAGES = (("dspy", "dspy"), ("dspy-gepa", "dspy_gepa"), ("litellm", "litellm"))


def version_of(dist: str, module: str) -> str:
    """The installed version of ``dist``; else ``module.__version__``; "not installed" when neither exists."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        pass
    loaded = sys.modules.get(module)
    if loaded is None:
        try:
            loaded = importlib.import_module(module)
        except ImportError:
            return "not installed"
    return str(getattr(loaded, "__version__", "unknown"))


def versions() -> dict[str, str]:
    """``{module: version}`` for dspy, dspy_gepa and litellm, plus ``python``."""
    return {module: version_of(dist, module) for dist, module in PACKAGES} | {"python": platform.python_version()}
