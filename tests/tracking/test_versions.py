"""Package versions for the report and the trackers: from distribution metadata, else a module's
``__version__`` (never importing dspy_gepa again), else "not installed"."""

import importlib.metadata
import platform

import dspy_gepa
from dspy_gepa.tracking import _versions
from dspy_gepa.tracking._versions import version_of, versions


def test_installed_versions_come_from_the_metadata():
    assert version_of("dspy-gepa", "dspy_gepa") == importlib.metadata.version("dspy-gepa")
    found = versions()
    assert list(found) == ["dspy", "dspy_gepa", "litellm", "python"]
    assert found["dspy"] == importlib.metadata.version("dspy") and found["python"] == platform.python_version()


def test_without_metadata_the_module_version_is_used(monkeypatch):
    def missing(dist):
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(_versions.importlib.metadata, "version", missing)
    assert version_of("dspy-gepa", "dspy_gepa") == dspy_gepa.__version__
    assert version_of("no-such-dist", "no_such_module_for_dspy_gepa_tests") == "not installed"
