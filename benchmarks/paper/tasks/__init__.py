"""The GEPA paper's four benchmark tasks (arXiv 2507.19457): HotpotQA, HoVer, IFBench and PUPA.

Each task module exposes ``load_splits(offline=True, seed=0, sizes=None) -> (train, val, test)``,
``make_program(...)``, ``metric(gold, pred, trace=None) -> float`` and the GEPA feedback metric
``feedback_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction(score, feedback)``,
plus ``PREDICTORS`` (the names of its predictors) and ``PAPER_SIZES`` (train, val, test).
"""

from __future__ import annotations

import importlib
from types import ModuleType

TASKS = ("hotpotqa", "hover", "ifbench", "pupa")

__all__ = ["TASKS", "get_task"]


def get_task(name: str) -> ModuleType:
    """The task module for ``name`` (one of :data:`TASKS`)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return importlib.import_module(f"benchmarks.paper.tasks.{name}")
