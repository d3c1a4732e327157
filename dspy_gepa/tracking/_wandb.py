"""Weights & Biases backend (``use_wandb=True``; ``pip install 'dspy-gepa[wandb]'``).

Run selection: with ``wandb_attach_existing=None`` (default) the active ``wandb.run`` receives our keys
under the prefix; with none active we call ``wandb.init(**wandb_init_kwargs)``. ``False`` always starts
a run of our own (``reinit="create_new"``, so an active run of yours is left alone). A run we started
is finished when the optimization ends; an attached run is left open. A resumed optimization (same
``log_dir``) asks W&B to resume the run it started the first time.

Step axis: every metric we log is declared with ``define_metric(..., step_metric="<prefix>metric_calls")``
(per key, never a glob, so the host's own metrics keep their x-axis), and we never pass ``step=`` to
``log``. W&B's own ``_step`` still advances by one per ``log`` call, as for any call to ``log``.

``wandb_api_key`` goes to ``wandb.Settings(api_key=...)`` for this run only: it is not written to
``~/.netrc`` nor put in the environment.

Logged: config (``run.config``), per-iteration metrics, ``<prefix>candidates`` (a table that grows by one
row per accepted candidate), summary values, ``<prefix>report`` (the HTML report) and a ``model``
artifact ``<prefix>best-program`` holding ``best_program.json``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from dspy_gepa._run_dir import BEST_PROGRAM, REPORT
from dspy_gepa.exceptions import TrackingError
from dspy_gepa.tracking._base import METRICS, STEP_METRIC, Backend, table_columns, table_row
from dspy_gepa.tracking._options import require

logger = logging.getLogger(__name__)


class WandbBackend(Backend):
    name = "W&B"

    def __init__(self, options):
        super().__init__(options)
        self.wandb: Any = None
        self.run: Any = None
        self.table: Any = None
        self.incremental = True
        self.rows: list[list[Any]] = []
        self.table_dirty = False

    def start(self, *, resumed: bool, stored: dict[str, Any], components: list[str]) -> dict[str, Any]:
        wandb = self.wandb = require("wandb")
        self.components = components
        opts = self.options
        host = wandb.run
        if opts.wandb_attach_existing is True and host is None:
            raise TrackingError("wandb_attach_existing=True, but no W&B run is active. Call wandb.init() before "
                                "compile(), or leave wandb_attach_existing unset to let GEPA start a run.")
        if host is not None and opts.wandb_attach_existing is not False:
            if opts.wandb_init_kwargs:
                logger.info("Attaching to the active W&B run %s; wandb_init_kwargs apply only to runs GEPA "
                            "starts.", host.id)
            self.run, self.attached = host, True
            self.continuing = resumed and stored.get("wandb_run_id") == host.id
        else:
            kwargs = dict(opts.wandb_init_kwargs)
            if opts.wandb_api_key:
                kwargs["settings"] = _with_api_key(wandb, kwargs.get("settings"), opts.wandb_api_key)
            if host is not None:
                kwargs.setdefault("reinit", "create_new")
            previous = stored.get("wandb_run_id")
            if resumed and previous and "id" not in kwargs:
                kwargs.update(id=previous, resume=kwargs.get("resume", "allow"))
                self.continuing = True
            try:
                self.run = wandb.init(**kwargs)
            except Exception as exc:
                raise TrackingError(f"wandb.init failed ({type(exc).__name__}: {exc}). Check wandb_init_kwargs "
                                    "and your W&B login (wandb_api_key or `wandb login`), set WANDB_MODE=offline "
                                    "to log without a server, or set use_wandb=False.") from exc
            self.own_run = True
        self.run_id = self.run.id
        step = self.key(STEP_METRIC)
        self.run.define_metric(step)
        for name in METRICS:
            self.run.define_metric(self.key(name), step_metric=step)
        self._new_table()
        return {"wandb_run_id": self.run_id}

    def _new_table(self) -> None:
        columns = table_columns(self.components)
        try:
            self.table = self.wandb.Table(columns=columns, log_mode="INCREMENTAL")
        except (TypeError, AssertionError, ValueError):  # an older wandb without incremental tables
            self.incremental = False
            self.table = None

    def log_params(self, params: dict[str, Any]) -> None:
        self.run.config.update(params, allow_val_change=True)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        data: dict[str, Any] = dict(metrics)
        if self.table_dirty:
            data[self.key("candidates")] = self._table()
            self.table_dirty = False
        self.run.log(data)

    def _table(self) -> Any:
        if self.incremental:
            return self.table
        return self.wandb.Table(columns=table_columns(self.components), data=list(self.rows))

    def log_candidate(self, row: dict[str, Any]) -> None:
        values = table_row(row, self.components)
        self.rows.append(values)
        if self.incremental:
            self.table.add_data(*values)
        self.table_dirty = True  # sent with the proposal's metrics, which follow right after

    def log_summary(self, summary: dict[str, Any], step: int) -> None:
        self.run.summary.update(summary)

    def log_final(self, rows: list[dict[str, Any]], files: dict[str, Path]) -> None:
        data: dict[str, Any] = {}
        if self.table_dirty:
            data[self.key("candidates")] = self._table()
            self.table_dirty = False
        if REPORT in files:
            data[self.key("report")] = self.wandb.Html(files[REPORT].read_text(encoding="utf-8"))
        if data:
            self.run.log(data)
        program = files.get(BEST_PROGRAM)
        if program is not None:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.prefix).strip("-.")
            artifact = self.wandb.Artifact(f"{name}-best-program" if name else "best-program", type="model",
                                           description="Best program found by dspy-gepa (program.save JSON).")
            artifact.add_file(str(program), name=BEST_PROGRAM)
            self.run.log_artifact(artifact)

    def log_program(self, program: Any) -> None:
        """Nothing more: W&B has no DSPy model kind; the best program is the ``model`` artifact of ``log_final``."""

    def finish(self, *, failed: bool, interrupted: bool = False) -> None:
        if self.own_run and self.run is not None:
            self.run.finish(exit_code=1 if failed else 0)
            self.own_run = False


def _with_api_key(wandb: Any, settings: Any, key: str) -> Any:
    if settings is None:
        return wandb.Settings(api_key=key)
    if isinstance(settings, dict):
        return {**settings, "api_key": key}
    try:
        return settings.model_copy(update={"api_key": key})
    except AttributeError:
        settings.api_key = key
        return settings
