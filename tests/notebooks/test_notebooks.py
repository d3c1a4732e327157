"""The walkthrough notebooks (notebooks/*.ipynb): they stay stripped, cover the whole walkthrough, and execute
end to end in smoke mode (DSPY_GEPA_SMOKE=1: scripted LMs, the shipped data, no network)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO / "notebooks"
TASKS = ("hotpotqa", "hover", "ifbench", "pupa")
# Each notebook runs from one of the two places users start Jupyter in; the setup cell must find the checkout.
START_IN = {"hotpotqa": ".", "hover": "notebooks", "ifbench": ".", "pupa": "notebooks"}
IGNORED_DIRS = {".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", ".ipynb_checkpoints"}


def _load_stripper():
    spec = importlib.util.spec_from_file_location("strip_outputs", NOTEBOOKS_DIR / "strip_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _require(module: str):
    """Import ``module``; skip without it, except in CI (``CI`` set), where a missing tool must not hide rot."""
    try:
        return importlib.import_module(module)
    except ImportError:
        message = f"{module} is needed to execute the notebooks: pip install -e '.[dev]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _code(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def _markdown(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_there_is_one_notebook_per_paper_task():
    assert sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(TASKS)


def _repo_notebooks() -> list[Path]:
    skip = IGNORED_DIRS | {".venv", "venv", "build", "dist", "runs", "wandb", "mlruns"}
    found = []
    for dirpath, dirnames, filenames in os.walk(REPO):
        dirnames[:] = [d for d in dirnames if d not in skip]
        found += [Path(dirpath) / f for f in filenames if f.endswith(".ipynb")]
    return sorted(found)


def test_every_notebook_is_found_by_the_stripped_check():
    assert set(NOTEBOOKS_DIR.glob("*.ipynb")) <= set(_repo_notebooks())


@pytest.mark.parametrize("path", _repo_notebooks(), ids=lambda p: str(p.relative_to(REPO)))
def test_notebooks_in_the_repo_are_stripped(path):
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {i} has outputs: run python notebooks/strip_outputs.py"
            assert cell["execution_count"] is None, f"cell {i} has an execution count"
        assert "execution" not in cell.get("metadata", {}), f"cell {i} has run metadata"
    assert _load_stripper().stripped_text(text) == text, "run python notebooks/strip_outputs.py"


def test_strip_outputs_cleans_an_executed_notebook(tmp_path, capsys):
    stripper = _load_stripper()
    nb = {
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# Title"]},
            {"cell_type": "code", "id": "b", "execution_count": 3, "source": ["print('hi')"],
             "metadata": {"execution": {"iopub.status.idle": "2026-01-01T00:00:00Z"}, "tags": ["keep"]},
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "language_info": {"name": "python", "version": "3.11.7"}, "widgets": {"state": {}}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert stripper.main(["--check", str(path)]) == 1
    assert json.loads(path.read_text(encoding="utf-8")) == nb  # --check changes nothing
    assert stripper.main([str(path)]) == 0
    clean = json.loads(path.read_text(encoding="utf-8"))
    code = clean["cells"][1]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert code["metadata"] == {"tags": ["keep"]} and code["source"] == ["print('hi')"]
    assert clean["metadata"] == {"kernelspec": nb["metadata"]["kernelspec"], "language_info": {"name": "python"}}
    assert stripper.main(["--check", str(path)]) == 0
    assert "need stripping" in capsys.readouterr().out


@pytest.mark.parametrize("task", TASKS)
def test_notebook_walks_through_the_task(task):
    nb = json.loads((NOTEBOOKS_DIR / f"{task}.ipynb").read_text(encoding="utf-8"))
    code, text = _code(nb), _markdown(nb)
    first_code = "".join(next(c for c in nb["cells"] if c["cell_type"] == "code")["source"])
    assert "pyproject.toml" in first_code and "sys.path.insert" in first_code  # runs from the root or notebooks/
    marker = re.search(r'\(folder / ((?:"[^"]+"(?: / )?)+)\)\.is_dir\(\)', first_code)  # how it finds the checkout
    assert marker and (REPO.joinpath(*re.findall(r'"([^"]+)"', marker.group(1)))).is_dir()
    for needle in (
        'os.environ.get("DSPY_GEPA_SMOKE") == "1"',  # the smoke switch CI uses
        "benchmarks.paper.offline_lms",  # scripted LMs in smoke mode
        "dspy.LM(TASK_LM",  # any litellm model otherwise
        f"from benchmarks.paper.tasks import {task} as task",
        "load_splits(",
        "feedback_metric(example, pred, pred_name=name)",  # the feedback, shown per predictor
        "dspy.Evaluate(",
        "from dspy_gepa import GEPA",
        "track_stats=True",
        "log_dir=str(LOG_DIR)",
        "use_mlflow=USE_MLFLOW",
        "use_wandb=USE_WANDB",
        ".compile(program, trainset=train, valset=val)",
        "evaluate(optimized)",
        "optimized.detailed_results",
        "seed_instructions[name]",  # evolved instructions next to the originals
        '["show", str(LOG_DIR)',
        "report.html",
        "MlflowClient",
    ):
        assert needle in code, needle
    for needle in ("dspy-gepa show", "dspy-gepa report", "WANDB_MODE=offline", "DSPY_GEPA_SMOKE=1"):
        assert needle in text, needle


def _snapshot(root: Path) -> set[str]:
    files = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in IGNORED_DIRS]
        files.update(os.path.relpath(os.path.join(dirpath, f), root) for f in filenames)
    return files


def _kernel_environment(tmp_path: Path, monkeypatch) -> None:
    """A ``python3`` kernel spec running this interpreter, first on the Jupyter path, and every directory the
    kernel, DSPy, MLflow or W&B might write to inside ``tmp_path``."""
    kernels = tmp_path / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (tests)", "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("TMPDIR", str(scratch))  # the notebooks' smoke-mode WORK_DIR (tempfile.mkdtemp)
    monkeypatch.setenv("DSPY_CACHEDIR", str(tmp_path / "dspy-cache"))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("DSPY_GEPA_SMOKE", "1")
    for var in ("PYTHONPATH", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(var, raising=False)


def _checkout(tmp_path: Path, task: str) -> Path:
    """A stand-in checkout: pyproject.toml, links to the real benchmarks/ and dspy_gepa/, a copy of the notebook."""
    root = tmp_path / "checkout"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    for package in ("benchmarks", "dspy_gepa"):
        (root / package).symlink_to(REPO / package, target_is_directory=True)
    shutil.copy(NOTEBOOKS_DIR / f"{task}.ipynb", root / "notebooks" / f"{task}.ipynb")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_notebook_executes_in_smoke_mode(task, tmp_path, monkeypatch):
    _require("ipykernel")
    _require("nbformat")
    nbclient = _require("nbclient")
    if task in ("hotpotqa", "hover"):  # BM25 retrieval
        _require("bm25s")
        _require("Stemmer")
    import nbformat

    _kernel_environment(tmp_path, monkeypatch)
    root = _checkout(tmp_path, task)
    nb = nbformat.read(root / "notebooks" / f"{task}.ipynb", as_version=4)
    # After the walkthrough: which code did the kernel import? The checkout's, not an installed copy.
    nb.cells.append(nbformat.v4.new_code_cell(
        "import benchmarks, dspy_gepa\nprint('IMPORTED', benchmarks.__file__, dspy_gepa.__file__)"))
    before = _snapshot(REPO)

    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(root / START_IN[task])}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails

    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "smoke mode: True" in outputs
    assert "(baseline) ->" in outputs and "(optimized)" in outputs
    assert "GEPA run in" in outputs  # dspy-gepa show
    assert f"{task}_optimized.json" in outputs
    imported = next(line for line in outputs.splitlines() if line.startswith("IMPORTED"))
    assert imported.split()[1:] == [str(root / "benchmarks" / "__init__.py"), str(root / "dspy_gepa" / "__init__.py")]
    runs = list((tmp_path / "scratch").glob(f"dspy-gepa-{task}-*"))
    assert len(runs) == 1
    assert {"journal.jsonl", "report.html", "best_program.json"} <= {p.name for p in (runs[0] / "gepa").iterdir()}
    assert (runs[0] / "mlflow.db").is_file()
    assert _snapshot(root) == {"pyproject.toml", f"notebooks/{task}.ipynb"}  # nothing in the working directory
    assert _snapshot(REPO) == before  # nothing written into the repository
