"""gepa-style callbacks (``gepa_kwargs={"callbacks": [...]}``): the same methods, in the same order within an
iteration, with the same event fields as under ``dspy.GEPA``; and gepa-viz's ``GepaVizCallback`` for real,
headless (``live=False``) and live on a local port."""

from __future__ import annotations

import json
import urllib.request

import dspy
import pytest
from gepa.core.callbacks import GEPACallback
from gepa_viz import GepaVizCallback

from dspy_gepa import GEPA, ConfigurationError

from ..helpers import metric, reflection_lm, split
from .common import OPTIMIZERS, both, compile_with

METHODS = [name for name in dir(GEPACallback) if name.startswith("on_")]


class Recorder:
    """Records every callback: (method, event keys, event)."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        if not name.startswith("on_"):
            raise AttributeError(name)
        return lambda event: self.calls.append((name, set(event), event))


def record(which, **kwargs):
    recorder = Recorder()
    compile_with(which, dspy.Predict("word -> color"), max_metric_calls=kwargs.pop("max_metric_calls", 120),
                 gepa_kwargs={"callbacks": [recorder]}, **kwargs)
    return recorder.calls


def iterations(calls):
    """The method sequence of each iteration (from on_iteration_start to on_iteration_end)."""
    out, current = [], None
    for name, _, _ in calls:
        if name == "on_iteration_start":
            current = []
        if current is not None and name != "on_budget_updated":
            current.append(name)
        if name == "on_iteration_end":
            out.append(tuple(current))
            current = None
    return out


def test_the_same_methods_with_the_same_event_fields():
    calls = both(record)
    keys = {which: {} for which in calls}
    for which, seen in calls.items():
        for name, fields, _ in seen:
            keys[which].setdefault(name, fields)
    for name in keys["dspy"]:
        if name == "on_state_saved":  # dspy.GEPA saves its state even without a run_dir
            continue
        assert keys["ours"].get(name) == keys["dspy"][name], name
    assert set(keys["dspy"]) - {"on_state_saved"} <= set(keys["ours"])
    assert set(keys["ours"]) <= set(METHODS)


def test_an_iteration_reports_in_gepas_order():
    seqs = both(lambda which: set(iterations(record(which, use_merge=False))))
    assert any("on_candidate_accepted" in s for s in seqs["ours"] & seqs["dspy"]), seqs
    accepted = next(s for s in seqs["ours"] if "on_candidate_accepted" in s)
    rejected = accepted[:accepted.index("on_pareto_front_updated")] + ("on_candidate_rejected", "on_iteration_end")
    assert seqs["ours"] <= seqs["dspy"] | {rejected}, seqs


def test_the_lifecycle_and_the_seed_evaluation():
    for which, calls in both(record).items():
        names = [name for name, _, _ in calls]
        assert names[0] == "on_optimization_start" and names[-1] == "on_optimization_end", which
        seed = next(event for name, _, event in calls if name == "on_valset_evaluated")
        assert (seed["iteration"], seed["candidate_idx"], seed["is_best_program"]) == (0, 0, True), which
        end = calls[-1][2]
        assert len(end["final_state"].program_candidates) >= 2, which
        assert end["total_metric_calls"] <= 120 or which == "dspy", which  # dspy.GEPA may overshoot its budget
        budget = [event for name, _, event in calls if name == "on_budget_updated"]
        assert budget and budget[-1]["metric_calls_used"] == end["total_metric_calls"], which


def test_a_callback_with_no_callback_method_is_refused():
    with pytest.raises(ConfigurationError, match="implements none of the gepa callback methods"):
        GEPA(metric=metric, max_metric_calls=10, reflection_lm=reflection_lm(), gepa_kwargs={"callbacks": [object()]})


def viz_run(which, tmp_path, **viz):
    train, val = split()
    path = tmp_path / f"{which}.json"
    with GepaVizCallback(val, trainset=train, path=path, open_browser=False, keep_alive=False, **viz) as cb:
        compile_with(which, dspy.Predict("word -> color"), max_metric_calls=120, gepa_kwargs={"callbacks": [cb]})
        live = None
        if viz.get("live", True):
            with urllib.request.urlopen(f"http://127.0.0.1:{cb._port}/run.json", timeout=5) as response:
                live = json.loads(response.read())
    return json.loads(path.read_text()), live


def check_viz(run, which):
    candidates = run["candidates"]
    seed = candidates["0"]
    assert seed["parent"] is None and len(seed["predictions"]) == len(split()[1]), which
    accepted = [c for k, c in candidates.items() if k != "0" and "." not in k]
    rejected = [c for k, c in candidates.items() if "." in k]
    assert accepted, which
    assert all(c["parent"] in candidates and c["score"] is None for c in rejected), which
    for c in accepted:
        assert c["score"] is not None and c["predictions"] and c["minibatch"], which
        assert all(set(m) == {"example", "parent_prediction", "parent_score", "prediction", "score", "feedback"}
                   for m in c["minibatch"]), which
        assert any(m["feedback"] for m in c["minibatch"]), which
        assert c["prompt"] and c["parent"] in candidates, which


@pytest.mark.parametrize("which", list(OPTIMIZERS))
def test_gepa_viz_headless(which, tmp_path):
    run, _ = viz_run(which, tmp_path, live=False)
    check_viz(run, which)


@pytest.mark.parametrize("which", list(OPTIMIZERS))
def test_gepa_viz_live_on_a_local_port(which, tmp_path):
    run, live = viz_run(which, tmp_path, live=True, port=0)
    check_viz(live, which)
    assert live["candidates"].keys() == run["candidates"].keys()
