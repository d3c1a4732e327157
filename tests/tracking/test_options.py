"""Tracking keywords on GEPA, the same options through gepa_kwargs, and what logged_params shows."""

import sys

import pytest

from dspy_gepa import GEPA, ConfigurationError, TrackingError
from dspy_gepa.tracking import TrackingOptions

from ..helpers import metric, reflection_lm
from .conftest import run_gepa


def make(**kw):
    return GEPA(metric=metric, max_metric_calls=60, reflection_lm=reflection_lm(), **kw)


def test_defaults():
    opts = make().tracking_options
    assert opts == TrackingOptions()
    assert (opts.progress, opts.tracking_key_prefix, opts.wandb_attach_existing, opts.mlflow_attach_existing,
            opts.mlflow_tracking_uri, opts.mlflow_experiment_name) == (None, "gepa/", None, None, None, None)


def test_gepa_kwargs_keys_dspy_gepa_forwards_are_accepted():
    kw = {"mlflow_tracking_uri": "sqlite:///x.db", "mlflow_experiment_name": "exp", "wandb_attach_existing": True,
          "mlflow_attach_existing": False, "tracking_key_prefix": "opt/"}
    opts = make(gepa_kwargs=kw).tracking_options
    assert {k: getattr(opts, k) for k in kw} == kw
    assert make(**kw).tracking_options == opts


def test_keyword_and_gepa_kwargs_must_agree():
    make(mlflow_experiment_name="a", gepa_kwargs={"mlflow_experiment_name": "a"})
    with pytest.raises(ConfigurationError, match="mlflow_experiment_name is given both"):
        make(mlflow_experiment_name="a", gepa_kwargs={"mlflow_experiment_name": "b"})


@pytest.mark.parametrize("kw,match", [({"progress": "yes"}, "progress must be"),
                                      ({"tracking_key_prefix": None}, "tracking_key_prefix"),
                                      ({"wandb_init_kwargs": ["project"]}, "wandb_init_kwargs must be a dict"),
                                      ({"mlflow_tracking_uri": ""}, "mlflow_tracking_uri")])
def test_bad_values(kw, match):
    with pytest.raises(ConfigurationError, match=match):
        make(**kw)


def test_logged_params_have_the_new_options_without_credentials():
    params = make(mlflow_tracking_uri="https://alice:s3cr3t-pw@mlflow.example.com/api", progress=False,
                  wandb_api_key="wandb-SECRET", tracking_key_prefix="g/").logged_params()
    assert params["mlflow_tracking_uri"] == "https://mlflow.example.com/api"
    assert params["progress"] is False and params["tracking_key_prefix"] == "g/"
    for value in params.values():
        assert value is None or isinstance(value, str | int | float | bool)
    assert "s3cr3t" not in repr(params) and "SECRET" not in repr(params)
    assert "SECRET" not in repr(make(wandb_api_key="wandb-SECRET").tracking_options)


def test_api_key_in_wandb_init_kwargs_is_not_passed_to_init():
    opts = make(wandb_init_kwargs={"project": "p", "api_key": "k-1"}).tracking_options
    assert opts.wandb_init_kwargs == {"project": "p"} and opts.wandb_api_key == "k-1"


@pytest.mark.parametrize("package", ["wandb", "mlflow"])
def test_missing_package_names_the_extra_before_any_lm_call(package, monkeypatch):
    monkeypatch.setitem(sys.modules, package, None)
    refl = reflection_lm()
    with pytest.raises(TrackingError, match=rf"pip install 'dspy-gepa\[{package}\]'"):
        run_gepa(reflection_lm=refl, **{f"use_{package}": True})
    assert refl.engine.calls == []
