"""The benchmark CLI, run offline with scripted LMs (one tiny budget per task)."""

import json
import sys
import types

import dspy
import pytest

from benchmarks.paper import run
from benchmarks.paper.offline_lms import scripted_task_lm
from benchmarks.paper.tasks import get_task

TINY = ["--offline", "--budget", "8", "--train-size", "3", "--val-size", "3", "--test-size", "3", "--num-threads", "1"]


def _baseline_directly(task_name):
    """The baseline test score recomputed outside the CLI, with a fresh scripted LM."""
    task = get_task(task_name)
    _, _, test = task.load_splits(sizes=(3, 3, 3))
    lm = scripted_task_lm()
    if task_name == "pupa":
        program, metric = task.make_program(untrusted_lm=lm), task.make_metric(judge_lm=lm)
    else:
        program, metric = task.make_program(), task.metric
    with dspy.context(lm=lm):
        scores = [metric(ex, program(**ex.inputs())) for ex in test]
    return round(100 * sum(scores) / len(scores), 2)


@pytest.mark.parametrize("task_name", ["hotpotqa", "hover", "ifbench", "pupa"])
def test_cli_runs_a_tiny_budget_offline(task_name, tmp_path, capsys, request):
    if task_name in ("hotpotqa", "hover"):
        request.getfixturevalue("needs_bm25")
    out = tmp_path / "result.json"
    assert run.main(["--task", task_name, "--optimizer", "dspy", *TINY, "--output", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["task"] == task_name and record["optimizer"] == "dspy"
    assert record["lm"] == "scripted/task" and record["reflection_lm"] == "scripted/reflection"
    assert record["budget"] == 8 and record["seeds"] == [0] and record["offline_lms"] is True
    assert record["sizes"] == {"train": 3, "val": 3, "test": 3}
    assert record["versions"]["dspy"] == dspy.__version__
    (seed_run,) = record["runs"]
    assert seed_run["baseline_test_score"] == _baseline_directly(task_name)
    assert 0.0 <= seed_run["optimized_test_score"] <= 100.0
    assert seed_run["rollouts_source"] == "detailed_results.total_metric_calls"
    assert seed_run["rollouts"] >= 8
    assert seed_run["metric_calls_counted"] >= seed_run["rollouts"]
    assert seed_run["cost_usd"] is None  # scripted LMs report no cost
    assert seed_run["lm_calls"] > 0 and seed_run["prompt_tokens"] > 0
    assert set(seed_run["optimized_instructions"]) == {f"{p}.predict" for p in get_task(task_name).PREDICTORS}
    assert record["mean_baseline_test_score"] == seed_run["baseline_test_score"]
    printed = capsys.readouterr().out
    assert f"[{task_name} / dspy / seed 0]" in printed and str(out) in printed


def test_cli_runs_each_seed_and_saves_to_the_default_place(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "RESULTS_DIR", tmp_path)
    assert run.main(["--task", "ifbench", "--optimizer", "dspy", *TINY, "--seeds", "0", "1"]) == 0
    (saved,) = tmp_path.glob("ifbench-dspy-*.json")
    record = json.loads(saved.read_text())
    assert [r["seed"] for r in record["runs"]] == [0, 1]


def test_cli_runs_mipro_offline(tmp_path):
    pytest.importorskip("optuna", reason="MIPROv2 needs optuna (in the benchmarks extra)")
    out = tmp_path / "mipro.json"
    assert run.main(["--task", "ifbench", "--optimizer", "mipro", *TINY, "--output", str(out)]) == 0
    (seed_run,) = json.loads(out.read_text())["runs"]
    assert seed_run["rollouts_source"] == "counted metric calls" and seed_run["rollouts"] > 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--task", "hotpotqa", "--optimizer", "dspy", "--offline", "--budget", "0"],
        ["--task", "hotpotqa", "--optimizer", "dspy", "--budget", "5"],  # no --lm and not --offline
        ["--task", "hotpotqa", "--optimizer", "dspy", "--offline", "--budget", "5", "--train-size", "3"],
        ["--task", "nope", "--optimizer", "dspy", "--offline", "--budget", "5"],
        ["--task", "hotpotqa", "--optimizer", "nope", "--offline", "--budget", "5"],
    ],
)
def test_cli_rejects_bad_input(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        run.parse_args(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


class RecordingGEPA:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


LMS = {"task": object(), "reflection": object()}


def feedback(gold, pred, trace=None, pred_name=None, pred_trace=None):
    return 0.0


def _build(name):
    return run.build_optimizer(
        name, metric=len, feedback_metric=feedback, budget=50, lms=LMS, seed=3, num_threads=2, log_dir=None, val_size=10
    )


def test_dspy_gepa_gets_dspy_gepa_keywords_and_the_paper_variant_adds_its_settings(monkeypatch):
    monkeypatch.setitem(sys.modules, "dspy_gepa", types.SimpleNamespace(GEPA=RecordingGEPA))
    plain, _ = _build("dspy_gepa")
    assert plain.kwargs == dict(
        metric=feedback,
        max_metric_calls=50,
        reflection_lm=LMS["reflection"],
        seed=3,
        track_stats=True,
        num_threads=2,
        log_dir=None,
    )
    paper, _ = _build("dspy_gepa_paper")
    assert paper.kwargs == {**plain.kwargs, "max_concurrent_proposals": 1, "val_evaluation_policy": "full"}
    reference, _ = _build("dspy")
    assert isinstance(reference, dspy.GEPA)


def test_dspy_gepa_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dspy_gepa", types.SimpleNamespace())
    with pytest.raises(SystemExit, match="--optimizer dspy"):
        _build("dspy_gepa")


def test_mipro_budget_maps_to_trials():
    pytest.importorskip("optuna", reason="MIPROv2 needs optuna (in the benchmarks extra)")
    optimizer, compile_kwargs = _build("mipro")
    assert isinstance(optimizer, dspy.MIPROv2)
    assert compile_kwargs == {"num_trials": 5, "minibatch_size": 10, "requires_permission_to_run": False}


def test_usage_meter_sums_costs_and_reports_unknown_as_none():
    lm = types.SimpleNamespace(history=[{"cost": 1.0}])
    meter = run.UsageMeter([lm, lm])  # the same LM twice counts once
    lm.history += [{"cost": 0.25, "usage": {"prompt_tokens": 3, "completion_tokens": 2}}, {"cost": 0.5}]
    usage = meter.since_mark()
    assert usage["cost_usd"] == 0.75 and usage["cost_complete"] and usage["lm_calls"] == 2
    assert usage["prompt_tokens"] == 3 and usage["completion_tokens"] == 2
    unknown = types.SimpleNamespace(history=[])
    meter = run.UsageMeter([unknown])
    unknown.history.append({"cost": None})
    assert meter.since_mark()["cost_usd"] is None


def test_lm_roles_default_to_the_task_lm_and_reflection_gets_its_own_settings():
    base = ["--task", "pupa", "--optimizer", "dspy", "--lm", "openai/task", "--budget", "3", "--temperature", "0.5"]
    lms = run.build_lms(run.parse_args(base))
    assert lms["reflection"] is lms["task"] and lms["judge"] is lms["task"] and lms["untrusted"] is lms["task"]
    assert lms["task"].kwargs["temperature"] == 0.5
    lms = run.build_lms(run.parse_args([*base, "--reflection-lm", "openai/task", "--judge-lm", "openai/judge"]))
    assert lms["reflection"] is not lms["task"] and lms["reflection"].model == "openai/task"
    assert lms["reflection"].kwargs["temperature"] == 1.0 and lms["reflection"].kwargs["max_tokens"] == 32000
    assert lms["judge"].model == "openai/judge" and lms["untrusted"] is lms["task"]


def test_wiki2017_corpus_option_builds_the_index_from_a_local_archive(tmp_path, needs_bm25):
    import io
    import tarfile

    lines = [
        {"title": "Ada Lovelace", "text": ["Ada Lovelace wrote the first program.", " She worked with Babbage."]},
        {"title": "Charles Babbage", "text": ["Charles Babbage designed the Analytical Engine."]},
    ]
    payload = "\n".join(json.dumps(x) for x in lines).encode()
    archive = tmp_path / "wiki.abstracts.2017.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("wiki.abstracts.2017.jsonl")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    args = run.parse_args(
        ["--task", "hover", "--optimizer", "dspy", "--offline", "--budget", "3", "--corpus", "wiki2017"]
        + ["--corpus-path", str(archive)]
    )
    retriever = run.build_retriever(args)
    assert len(retriever) == 2 and retriever("Analytical Engine", 1)[0].title == "Charles Babbage"
    assert (
        run.build_retriever(run.parse_args(["--task", "hover", "--optimizer", "dspy", "--offline", "--budget", "3"]))
        is None
    )
    online = run.parse_args(["--task", "hover", "--optimizer", "dspy", "--offline", "--budget", "3", "--online-data"])
    online.corpus = "offline"
    with pytest.raises(SystemExit, match="--corpus wiki2017"):
        run.build_retriever(online)
