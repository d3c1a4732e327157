"""The ``dspy-gepa`` command itself: a subcommand is required, and ``report``/``show`` never load the demo."""

import subprocess
import sys

import dspy
import pytest

from dspy_gepa import GEPA
from dspy_gepa.cli import main

from .demo.helpers import REPO
from .helpers import TwoStep, metric, reflection_lm, split, task_lm

_REPORT_AND_SHOW = """
import sys
from dspy_gepa.cli import main
assert main(["report", {log_dir!r}]) == 0 and main(["show", {log_dir!r}]) == 0
print(sorted(m for m in sys.modules if m.startswith(("dspy_gepa.demo", "llama_cpp"))))
"""


def test_cli_requires_a_subcommand(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "demo" in capsys.readouterr().err


def test_report_and_show_do_not_import_the_demo(tmp_path):
    train, val = split()
    with dspy.context(lm=task_lm()):
        GEPA(metric=metric, max_metric_calls=30, reflection_lm=reflection_lm(), log_dir=str(tmp_path)).compile(
            TwoStep(), trainset=train, valset=val)
    code = _REPORT_AND_SHOW.format(log_dir=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1] == "[]"
