"""The contract between the generic tracker and a tracking service: :class:`Backend` (one per service,
``_wandb.py`` and ``_mlflow.py``), the metric names it receives and the layout of a candidate row.

:class:`~dspy_gepa.tracking._tracker.ExperimentTracker` turns engine events into calls on a backend; a
backend only talks to its service. Keys a backend receives already carry the prefix.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from dspy_gepa.tracking._options import TrackingOptions

#: Per-iteration metric names (before the prefix); the W&B step axis is declared for exactly these.
METRICS = ("iteration", "best_val_score", "num_candidates", "accepted", "parent_minibatch_score",
           "child_minibatch_score", "new_candidate_val_score", "cost")
STEP_METRIC = "metric_calls"


class Backend(ABC):
    """One tracking service. Keys it receives already carry the prefix; ``artifact_dir`` is the prefix
    as a folder name."""

    name: str = ""

    def __init__(self, options: TrackingOptions):
        self.options = options
        self.prefix = options.tracking_key_prefix
        self.artifact_dir = self.prefix.strip("/") or ""
        self.attached = False  # logging into a run someone else started
        self.continuing = False  # logging into the run that received this optimization's earlier events
        self.run_id: str | None = None
        self.own_run = False  # a run this backend started, to be finished when the optimization ends
        self.components: list[str] = []  # the candidate components, in table column order

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def artifact_path(self, name: str) -> str:
        return f"{self.artifact_dir}/{name}" if self.artifact_dir else name

    @abstractmethod
    def start(self, *, resumed: bool, stored: dict[str, Any], components: list[str]) -> dict[str, Any]:
        """Open or attach to a run; return what to remember in ``log_dir/tracking.json``."""

    @abstractmethod
    def log_params(self, params: dict[str, Any]) -> None: ...

    @abstractmethod
    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    @abstractmethod
    def log_candidate(self, row: dict[str, Any]) -> None: ...

    @abstractmethod
    def log_summary(self, summary: dict[str, Any], step: int) -> None: ...

    @abstractmethod
    def log_final(self, rows: list[dict[str, Any]], files: dict[str, Path]) -> None: ...

    @abstractmethod
    def log_program(self, program: Any) -> None:
        """Log the best program as a model of the service's own kind where it has one (MLflow's ``dspy``
        flavor); a service without one does nothing here (``best_program.json`` is logged by ``log_final``)."""

    @abstractmethod
    def finish(self, *, failed: bool, interrupted: bool = False) -> None: ...


def table_columns(components: list[str]) -> list[str]:
    return ["idx", "parents", "kind", "val_score", "discovered_at", "proposal",
            *(f"instructions/{c}" for c in components)]


def table_row(row: dict[str, Any], components: list[str]) -> list[Any]:
    return [row["idx"], ", ".join(map(str, row["parents"])), row["kind"], row["val_score"], row["discovered_at"],
            row["proposal"], *(row["instructions"].get(c, "") for c in components)]
