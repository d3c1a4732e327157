"""Experiment tracking, progress bar and run report: subscribers to the engine's events.

The engine never calls any of these. :func:`attach` (``session.py``) subscribes what a ``GEPA`` run asked
for to its event bus: the journal records the report reads (``_recorder.py``), the report writer
(``log_dir/report.html`` at the end of a run; the report itself is ``report/``), the progress bar
(``progress.py``), and the W&B / MLflow trackers (``_tracker.py`` turns events into calls on a
``_base.Backend``: ``_wandb.py``, ``_mlflow.py``).
"""

from typing import TYPE_CHECKING

from dspy_gepa._lazy import exports

if TYPE_CHECKING:
    from dspy_gepa._redact import redact
    from dspy_gepa.tracking._base import Backend
    from dspy_gepa.tracking._options import GEPA_KWARGS_KEYS, TrackingOptions
    from dspy_gepa.tracking._tracker import ExperimentTracker, safe_params
    from dspy_gepa.tracking.progress import ProgressBar, progress_enabled
    from dspy_gepa.tracking.report import (
        REPORT_NAME,
        RunView,
        build_run,
        load_run,
        render_html,
        render_text,
        summary_text,
        write_report,
    )
    from dspy_gepa.tracking.session import ReportWriter, TrackingSession, attach

# Loaded on first use: ``dspy-gepa report`` needs ``report/``, not the trackers or the engine.
__getattr__, __dir__ = exports(__name__, {
    "redact": "dspy_gepa._redact",
    "Backend": "dspy_gepa.tracking._base",
    **dict.fromkeys(("GEPA_KWARGS_KEYS", "TrackingOptions"), "dspy_gepa.tracking._options"),
    **dict.fromkeys(("ExperimentTracker", "safe_params"), "dspy_gepa.tracking._tracker"),
    **dict.fromkeys(("ProgressBar", "progress_enabled"), "dspy_gepa.tracking.progress"),
    **dict.fromkeys(("REPORT_NAME", "RunView", "build_run", "load_run", "render_html", "render_text", "summary_text",
                     "write_report"), "dspy_gepa.tracking.report"),
    **dict.fromkeys(("ReportWriter", "TrackingSession", "attach"), "dspy_gepa.tracking.session"),
})

__all__ = [
    "GEPA_KWARGS_KEYS",
    "REPORT_NAME",
    "Backend",
    "ExperimentTracker",
    "ProgressBar",
    "ReportWriter",
    "RunView",
    "TrackingOptions",
    "TrackingSession",
    "attach",
    "build_run",
    "load_run",
    "progress_enabled",
    "redact",
    "render_html",
    "render_text",
    "safe_params",
    "summary_text",
    "write_report",
]
