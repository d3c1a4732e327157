"""Package doors that import what they export on first use (PEP 562 ``__getattr__``).

``dspy_gepa``, ``dspy_gepa.engine`` and ``dspy_gepa.tracking`` export names from many modules; importing
them all eagerly loads DSPy and the whole engine for anyone who needs one small part, such as
``dspy-gepa report`` and ``show``, which only read a journal.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, serving each name of ``where`` (name -> module
    defining it) from its module on first use."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
