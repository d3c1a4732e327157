"""How a ``GEPA`` run gets its trackers: :func:`attach` subscribes what the optimizer asked for to the
run's event bus (the journal records the report reads, the report writer, the progress bar, the W&B /
MLflow trackers) as one :class:`TrackingSession`. The engine never calls any of them.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from dspy_gepa.engine import events as ev
from dspy_gepa.exceptions import TrackingError
from dspy_gepa.tracking._options import TrackingOptions, require
from dspy_gepa.tracking._recorder import RunRecords
from dspy_gepa.tracking._tracker import ExperimentTracker, RunContext
from dspy_gepa.tracking.progress import ProgressBar, progress_enabled
from dspy_gepa.tracking.report import write_report

logger = logging.getLogger(__name__)


class ReportWriter:
    """Writes ``log_dir/report.html`` when the run finishes or fails."""

    events = (ev.RunFinished, ev.RunFailed)

    def __init__(self, log_dir: str | Path, records: RunRecords):
        self.log_dir = Path(log_dir)
        self.records = records

    def __repr__(self) -> str:
        return f"<report writer for {self.log_dir}>"

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunFinished | ev.RunFailed):
            path = write_report(self.log_dir, records=self.records.records())
            logger.info("Report written to %s (open it in a browser; `dspy-gepa show %s` for a summary).",
                        path, self.log_dir)


class TrackingSession:
    """The subscribers of one run. Trackers start on ``RunStarted`` from a *critical* subscriber, so a
    tracker that cannot start stops the run before any LM call; afterwards each subscriber's errors are
    logged and the optimization goes on."""

    def __init__(self, options: TrackingOptions, *, log_dir: str | Path | None, params: dict[str, Any],
                 save_program: Any = None, build_program: Any = None):
        self.options = options
        self.records = RunRecords(log_dir)
        self.ctx = RunContext(params=params, log_dir=Path(log_dir) if log_dir is not None else None,
                              records=self.records, save_program=save_program, build_program=build_program)
        # The records feed the report; without log_dir only a tracker needs them (kept in memory then).
        needs_records = log_dir is not None or options.use_wandb or options.use_mlflow
        self.subscribers: list[Any] = [self.records] if needs_records else []
        if log_dir is not None:
            self.subscribers.append(ReportWriter(log_dir, self.records))
        self.progress = ProgressBar() if progress_enabled(options.progress) else None
        if self.progress is not None:
            self.subscribers.append(self.progress)
        self.trackers: list[ExperimentTracker] = []
        if options.use_wandb:
            from dspy_gepa.tracking._wandb import WandbBackend

            self.trackers.append(ExperimentTracker(WandbBackend(options), self.ctx))
        if options.use_mlflow:
            from dspy_gepa.tracking._mlflow import MlflowBackend

            self.trackers.append(ExperimentTracker(MlflowBackend(options), self.ctx))

    def subscribe(self, bus: ev.EventBus) -> None:
        lock = threading.RLock()  # subscribers keep state; deliver one event at a time whatever thread emits
        bus.subscribe(_Serialized(self._start, lock, (ev.RunStarted,)), critical=True)
        for subscriber in [*self.subscribers, *self.trackers]:
            bus.subscribe(_Serialized(subscriber, lock))

    def _start(self, event: ev.Event) -> None:
        if not isinstance(event, ev.RunStarted):
            return
        try:
            for tracker in self.trackers:
                if not tracker.started:
                    tracker.start(event)
        except Exception as exc:
            for tracker in self.trackers:
                if not tracker.started:
                    continue
                tracker.started = False
                try:
                    tracker.backend.finish(failed=True)
                except Exception:  # pragma: no cover - best effort while already failing
                    logger.exception("Could not close the %s run", tracker.backend.name)
            if self.progress is not None:
                self.progress.close()
            if isinstance(exc, TrackingError):
                raise
            raise TrackingError(f"Experiment tracking could not start: {type(exc).__name__}: {exc}") from exc


class _Serialized:
    def __init__(self, subscriber: Any, lock: threading.RLock, events: tuple[type, ...] | None = None):
        self.subscriber = subscriber
        self.lock = lock
        self.events = events or getattr(subscriber, "events", None)

    def __call__(self, event: ev.Event) -> None:
        with self.lock:
            self.subscriber(event)

    def __repr__(self) -> str:
        return repr(self.subscriber)


def attach(bus: ev.EventBus, optimizer: Any, *, adapter: Any = None) -> TrackingSession:
    """Subscribe the progress bar, report writer and trackers ``optimizer`` asks for to ``bus``.

    ``optimizer`` is a :class:`dspy_gepa.GEPA` (its ``tracking_options``, ``log_dir`` and
    ``logged_params()`` are read); ``adapter.save_program`` writes the best-program artifact and
    ``adapter.build_program`` builds the program a tracker logs as a model (MLflow).
    """
    options = getattr(optimizer, "tracking_options", None) or TrackingOptions()
    for name in ("wandb", "mlflow"):
        if getattr(options, f"use_{name}"):
            require(name, check_only=True)
    session = TrackingSession(options, log_dir=getattr(optimizer, "log_dir", None), params=optimizer.logged_params(),
                              save_program=adapter.save_program if adapter is not None else None,
                              build_program=adapter.build_program if adapter is not None else None)
    session.subscribe(bus)
    return session
