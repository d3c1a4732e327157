"""The tracking options of a ``GEPA`` run, resolved once from its keywords and ``gepa_kwargs``.

dspy.GEPA forwards W&B/MLflow options it has no keyword for through ``gepa_kwargs``; we accept those
keys and also offer them as keywords. Both may be given only if they agree.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dspy_gepa.exceptions import ConfigurationError, TrackingError

#: gepa_kwargs keys (as dspy.GEPA forwards them to gepa) that this module handles.
GEPA_KWARGS_KEYS = ("mlflow_tracking_uri", "mlflow_experiment_name", "wandb_attach_existing",
                    "mlflow_attach_existing", "tracking_key_prefix")

EXTRAS = {"wandb": "dspy-gepa[wandb]", "mlflow": "dspy-gepa[mlflow]"}


@dataclass(frozen=True)
class TrackingOptions:
    """Everything the progress bar, the trackers and the report need from the optimizer's arguments.

    ``*_attach_existing``: ``None`` attaches to a run of the host that is already active and starts a
    run of our own otherwise; ``True`` requires an active run; ``False`` always starts a run of our own
    (nested under the active MLflow run, beside the active W&B run).
    """

    use_wandb: bool = False
    wandb_api_key: str | None = field(default=None, repr=False)
    wandb_init_kwargs: dict[str, Any] = field(default_factory=dict, repr=False)
    wandb_attach_existing: bool | None = None
    use_mlflow: bool = False
    mlflow_tracking_uri: str | None = None
    mlflow_experiment_name: str | None = None
    mlflow_attach_existing: bool | None = None
    tracking_key_prefix: str = "gepa/"
    progress: bool | None = None

    @classmethod
    def resolve(cls, *, gepa_kwargs: dict[str, Any] | None = None, **keywords: Any) -> TrackingOptions:
        """Merge keywords with the ``gepa_kwargs`` keys above and check their types. (Whether wandb/mlflow
        are installed is checked when ``compile`` starts, so a GEPA can be built without them.)"""
        defaults = cls()
        values = dict(keywords)
        for key in GEPA_KWARGS_KEYS:
            if key not in (gepa_kwargs or {}):
                continue
            forwarded = gepa_kwargs[key]
            given = values.get(key, getattr(defaults, key))
            if given != getattr(defaults, key) and given != forwarded:
                raise ConfigurationError(f"{key} is given both as a keyword ({given!r}) and in gepa_kwargs "
                                         f"({forwarded!r}); pass it once.")
            values[key] = forwarded
        init_kwargs = values.get("wandb_init_kwargs") or {}
        if not isinstance(init_kwargs, dict):
            raise ConfigurationError(f"wandb_init_kwargs must be a dict of wandb.init arguments, not "
                                     f"{type(init_kwargs).__name__}.")
        init_kwargs = dict(init_kwargs)
        if "api_key" in init_kwargs:  # not a wandb.init argument: use it as the key unless wandb_api_key is set
            key = init_kwargs.pop("api_key")
            if values.get("wandb_api_key") is None:
                values["wandb_api_key"] = key
        values["wandb_init_kwargs"] = init_kwargs
        options = cls(**values)
        options._check()
        return options

    def _check(self) -> None:
        for name in ("use_wandb", "use_mlflow"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(f"{name} must be True or False, not {getattr(self, name)!r}.")
        for name in ("wandb_attach_existing", "mlflow_attach_existing", "progress"):
            if getattr(self, name) not in (None, True, False):
                raise ConfigurationError(f"{name} must be True, False or None, not {getattr(self, name)!r}.")
        for name in ("mlflow_tracking_uri", "mlflow_experiment_name", "wandb_api_key"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigurationError(f"{name} must be a non-empty string or None.")
        if not isinstance(self.tracking_key_prefix, str):
            raise ConfigurationError(f"tracking_key_prefix must be a string, not {self.tracking_key_prefix!r}.")

    def params(self) -> dict[str, Any]:
        """The options as safe scalars for ``GEPA.get_params()`` and ``logged_params()`` (no key, no credentials in URIs)."""
        return {
            "progress": self.progress,
            "mlflow_tracking_uri": redact_uri(self.mlflow_tracking_uri),
            "mlflow_experiment_name": self.mlflow_experiment_name,
            "wandb_attach_existing": self.wandb_attach_existing,
            "mlflow_attach_existing": self.mlflow_attach_existing,
            "tracking_key_prefix": self.tracking_key_prefix,
        }


def redact_uri(uri: str | None) -> str | None:
    """Drop a user and password from a URI (``https://user:token@host/`` -> ``https://host/``)."""
    if not uri or "@" not in uri:
        return uri
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<redacted>"
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _available(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def require(name: str, *, check_only: bool = False) -> Any:
    """Import an optional tracking package, or say which extra installs it."""
    hint = (f"use_{name}=True needs the {name} package, which is not installed. Install it with "
            f"`pip install '{EXTRAS[name]}'` (or `pip install {name}`), or set use_{name}=False.")
    if check_only:
        if not _available(name):
            raise TrackingError(hint)
        return None
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise TrackingError(hint) from exc
