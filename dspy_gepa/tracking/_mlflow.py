"""MLflow backend (``use_mlflow=True``; ``pip install 'dspy-gepa[mlflow]'``).

Run selection: with ``mlflow_attach_existing=None`` (default) an active run (yours, or the one
``mlflow.dspy.autolog(log_compiles=True)`` opens around ``compile``) receives our keys under the
prefix; with no active run we start one, after applying ``mlflow_tracking_uri`` and
``mlflow_experiment_name`` the way dspy.GEPA does (``mlflow.set_tracking_uri``/``set_experiment``).
``False`` starts a run of our own, nested under the active one if any. A run we started is ended when
the optimization ends; an attached run is left open. A resumed optimization (same ``log_dir``)
continues the MLflow run it started the first time.

All logging goes through ``MlflowClient`` with an explicit run id, so it does not depend on which run
is "active" in the calling thread. Metrics: one series per key, ``step`` = metric calls committed.
Artifacts under ``<prefix>/``: ``candidates/NNNN.json`` (each accepted candidate), ``candidates.json``
(table), ``best_program.json``, ``report.html``. Summary: final metrics and ``<prefix>...`` tags.

When the run finishes, the best program is also logged as an MLflow model with ``mlflow.dspy.log_model``
(named ``optimized_program``, linked to the run), so ``mlflow.dspy.load_model`` and MLflow's own tools
(comparison, registry, serving) can use it; its URI is the tag ``<prefix>model_uri``. MLflow pickles the
program and DSPy's settings with it, so the LMs they hold are logged without their API keys and
credential headers: a loaded model takes the key from the environment, as a new ``dspy.LM`` does.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from dspy_gepa._redact import SECRET_NAME
from dspy_gepa.exceptions import TrackingError
from dspy_gepa.tracking._base import Backend, table_columns, table_row
from dspy_gepa.tracking._options import redact_uri, require

logger = logging.getLogger(__name__)

_MAX_TAG = 5000
#: The name of the logged model (MLflow model names take no slash, so the prefix goes into a tag).
MODEL_NAME = "optimized_program"


def _without_secrets(value: Any) -> Any:
    """``value`` (an LM's kwargs) without entries named like credentials, in nested dicts too."""
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items()
                if not (SECRET_NAME.search(str(k)) and isinstance(v, str))}
    return value


def _settings_to_log(settings: dict[str, Any]) -> dict[str, Any]:
    """Overrides of DSPy's settings for the pickled copy MLflow keeps with the model: the LM without
    credentials, and None for whatever cannot be pickled (an LM holding a lock, say), named in a warning."""
    import cloudpickle

    overrides: dict[str, Any] = {}
    if settings.get("lm") is not None:
        overrides["lm"] = without_credentials(settings["lm"])
    left_out = []
    for key, value in {**settings, **overrides}.items():
        if key == "trace" or value is None:
            continue
        try:
            cloudpickle.dumps(value)
        except Exception:
            overrides[key] = None
            left_out.append(key)
    if left_out:
        logger.warning("DSPy settings %s cannot be pickled, so the MLflow model is logged without them; set them "
                       "(dspy.configure) after mlflow.dspy.load_model.", left_out)
    return overrides


def without_credentials(lm: Any) -> Any:
    """A copy of ``lm`` with no API key or credential header (``lm`` itself if it carries none)."""
    kwargs = getattr(lm, "kwargs", None)
    if not isinstance(kwargs, dict) or _without_secrets(kwargs) == kwargs or not hasattr(lm, "copy"):
        return lm
    clean = lm.copy()
    clean.kwargs = _without_secrets(clean.kwargs)
    return clean


class MlflowBackend(Backend):
    name = "MLflow"

    def __init__(self, options):
        super().__init__(options)
        self.mlflow: Any = None
        self.client: Any = None

    def start(self, *, resumed: bool, stored: dict[str, Any], components: list[str]) -> dict[str, Any]:
        mlflow = self.mlflow = require("mlflow")
        from mlflow import MlflowClient

        self.components = components
        opts = self.options
        host = mlflow.active_run()
        if opts.mlflow_attach_existing is True and host is None:
            raise TrackingError("mlflow_attach_existing=True, but no MLflow run is active. Call "
                                "mlflow.start_run() around compile(), or leave mlflow_attach_existing unset to "
                                "let GEPA start a run.")
        try:
            if host is not None and opts.mlflow_attach_existing is not False:
                if opts.mlflow_tracking_uri or opts.mlflow_experiment_name:
                    logger.info("Attaching to the active MLflow run %s; mlflow_tracking_uri and "
                                "mlflow_experiment_name apply only to runs GEPA starts.", host.info.run_id)
                self.run_id, self.attached = host.info.run_id, True
                self.continuing = resumed and stored.get("mlflow_run_id") == self.run_id
                self.client = MlflowClient()
                self._warn_if_prefix_taken()
            else:
                self._start_own(host, resumed, stored)
        except TrackingError:
            raise
        except Exception as exc:
            raise TrackingError(f"MLflow could not start a run ({type(exc).__name__}: {exc}). Check "
                                f"mlflow_tracking_uri={redact_uri(opts.mlflow_tracking_uri)!r} and "
                                "mlflow_experiment_name, or set use_mlflow=False.") from exc
        return {"mlflow_run_id": self.run_id}

    def _start_own(self, host: Any, resumed: bool, stored: dict[str, Any]) -> None:
        mlflow, opts = self.mlflow, self.options
        from mlflow import MlflowClient

        if host is None:
            if opts.mlflow_tracking_uri:
                mlflow.set_tracking_uri(opts.mlflow_tracking_uri)
            if opts.mlflow_experiment_name:
                mlflow.set_experiment(opts.mlflow_experiment_name)
        client = MlflowClient()
        previous = stored.get("mlflow_run_id")
        run = None
        if resumed and previous and host is None:
            try:
                client.get_run(previous)
                run = mlflow.start_run(run_id=previous)
                self.continuing = True
            except Exception:  # the earlier run is in another store or was deleted
                run = None
        if run is None:
            kwargs: dict[str, Any] = {"tags": {"dspy_gepa": "true"}}
            if host is not None:
                kwargs.update(nested=True, experiment_id=host.info.experiment_id)
            run = mlflow.start_run(**kwargs)
        self.client, self.run_id, self.own_run = client, run.info.run_id, True

    def _warn_if_prefix_taken(self) -> None:
        params = self.client.get_run(self.run_id).data.params
        if not self.continuing and any(k.startswith(self.prefix) for k in params):
            logger.warning("The active MLflow run already has %r keys from another optimization; this one's "
                           "metrics will share their series. Pass tracking_key_prefix='gepa2/' (or any other) to "
                           "keep them apart.", self.prefix)

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        existing = self.client.get_run(self.run_id).data.params
        fresh, changed = [], []
        for key, value in params.items():
            text = "None" if value is None else str(value)
            if key not in existing:
                fresh.append(Param(key, text))
            elif existing[key] != text:
                changed.append(key)
        if changed:
            logger.info("MLflow params are write-once; keeping the earlier values of %s.", changed)
        for i in range(0, len(fresh), 100):
            self.client.log_batch(self.run_id, params=fresh[i:i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, int(step)) for k, v in metrics.items()])

    def log_candidate(self, row: dict[str, Any]) -> None:
        self.client.log_text(self.run_id, json.dumps(row, indent=2, ensure_ascii=False),
                             self.artifact_path(f"candidates/{row['idx']:04d}.json"))

    def log_summary(self, summary: dict[str, Any], step: int) -> None:
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        metrics, tags = [], []
        for key, value in summary.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                tags.append(RunTag(key, str(value)[:_MAX_TAG]))
            else:
                metrics.append(Metric(key, float(value), now, int(step)))
        self.client.log_batch(self.run_id, metrics=metrics, tags=tags)

    def log_final(self, rows: list[dict[str, Any]], files: dict[str, Path]) -> None:
        columns = table_columns(self.components)
        data = [table_row(r, self.components) for r in rows]
        table = {c: [row[i] for row in data] for i, c in enumerate(columns)}
        try:
            self.client.log_table(self.run_id, data=table, artifact_file=self.artifact_path("candidates.json"))
        except Exception as exc:  # log_table needs pandas; the plain JSON still holds everything
            logger.debug("mlflow log_table failed (%s); logging candidates.json as a dict", exc)
            self.client.log_dict(self.run_id, {"columns": columns, "data": data},
                                 self.artifact_path("candidates.json"))
        for path in files.values():
            self.client.log_artifact(self.run_id, str(path), self.artifact_dir or None)

    def log_program(self, program: Any) -> None:
        import dspy
        import mlflow.dspy

        active = self.mlflow.active_run()
        if active is None or active.info.run_id != self.run_id:
            # log_model links the model to the thread's active run only; never to someone else's run.
            logger.warning("The MLflow run %s is not active in this thread, so the optimized program is not logged "
                           "as an MLflow model (best_program.json is).", self.run_id)
            return
        program = program.deepcopy()
        for _, predictor in program.named_predictors():
            if getattr(predictor, "lm", None) is not None:
                predictor.lm = without_credentials(predictor.lm)
        with dspy.context(**_settings_to_log(dict(dspy.settings.config))):
            info = mlflow.dspy.log_model(program, name=MODEL_NAME, tags={"dspy_gepa": "true",
                                                                         "dspy_gepa.prefix": self.prefix})
        self.client.set_tag(self.run_id, self.key("model_uri"), info.model_uri)

    def finish(self, *, failed: bool, interrupted: bool = False) -> None:
        if not self.own_run:
            return
        status = "KILLED" if interrupted else "FAILED" if failed else "FINISHED"
        active = self.mlflow.active_run()
        if active is not None and active.info.run_id == self.run_id:
            self.mlflow.end_run(status=status)
        else:
            self.client.set_terminated(self.run_id, status=status)
        self.own_run = False
