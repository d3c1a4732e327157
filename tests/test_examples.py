"""The runnable examples work offline as shipped (scripted LMs)."""

import importlib.util
from pathlib import Path

import dspy
import pytest

from dspy_gepa import GEPA, MultiModalInstructionProposer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv", [[], ["--no-images"], ["--max-images", "1", "--component-selector", "all"]])
def test_multimodal_example_improves_the_program(argv, capsys):
    example = load("multimodal")
    result = example.main(argv)
    assert result["before"] == 0.0 and result["after"] == 1.0
    assert "color" in result["instructions"]["describe"]
    assert "red => yes" in result["instructions"]["answer"]
    assert "validation score: 0.00 -> 1.00" in capsys.readouterr().out


def test_multimodal_example_scripted_lms_see_the_images():
    example = load("multimodal")
    reflection = example.scripted_reflection_lm()
    with dspy.context(lm=example.scripted_task_lm()):
        GEPA(metric=example.metric, max_metric_calls=30, reflection_lm=reflection,
             instruction_proposer=MultiModalInstructionProposer()).compile(
            example.Ripeness(), trainset=example.dataset(6), valset=example.dataset(6, start=6))
    with_images = [c for c in reflection.engine.calls if c.images]
    assert with_images and all("[IMAGE-1]" in c.prompt and ";base64," not in c.prompt for c in with_images)


def test_offline_quickstart_improves_within_budget(tmp_path, capsys):
    summary = load("quickstart_offline").main(["--log-dir", str(tmp_path), "--budget", "150"])
    assert summary["baseline_val"] == 0.0
    assert summary["optimized_val"] > 0.5
    assert summary["metric_calls"] <= 150
    assert (tmp_path / "journal.jsonl").exists() and (tmp_path / "best_program.json").exists()
    assert "validation score: 0.00 ->" in capsys.readouterr().out
