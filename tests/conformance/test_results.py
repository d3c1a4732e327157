"""``detailed_results``: the fields of dspy.GEPA's ``DspyGEPAResult``, each filled for every validation
example as dspy.GEPA fills it, also under the default ``staged`` validation policy (where candidates
scored on the screen only are listed apart, in ``screened_candidates``)."""

from __future__ import annotations

import dataclasses

import dspy
import pytest
from dspy.teleprompt.gepa.gepa import DspyGEPAResult as TheirResult

from dspy_gepa import DspyGEPAResult

from ..helpers import examples
from .common import OPTIMIZERS, both, compile_with

DATA = examples()
TRAIN, VAL = DATA[:8], DATA[:16] * 3  # 48 validation examples: the staged policy screens 12 of them


def detailed(which, student=None, **kwargs):
    kwargs = {"max_metric_calls": 400, "track_stats": True, "track_best_outputs": True, **kwargs}
    return compile_with(which, student or dspy.Predict("word -> color"), trainset=TRAIN, valset=VAL,
                        **kwargs).detailed_results


def test_every_field_of_dspy_gepa_result_exists():
    theirs = {f.name for f in dataclasses.fields(TheirResult)}
    assert theirs <= {f.name for f in dataclasses.fields(DspyGEPAResult)}
    results = both(detailed)
    assert set(results["dspy"].to_dict()) <= set(results["ours"].to_dict())
    for name in ("best_idx", "best_candidate", "highest_score_achieved_per_val_task"):
        assert hasattr(results["ours"], name)


@pytest.mark.parametrize("which", list(OPTIMIZERS))
def test_every_structure_covers_every_validation_example(which):
    r = detailed(which)
    ids = set(range(len(VAL)))
    assert len(r.candidates) == len(r.parents) == len(r.val_aggregate_scores) == len(r.val_subscores) \
        == len(r.discovery_eval_counts) >= 2
    for i in range(len(r.candidates)):
        assert set(r.val_subscores[i]) == ids
        assert r.val_aggregate_scores[i] == pytest.approx(sum(r.val_subscores[i].values()) / len(ids))
        assert all(p is None or 0 <= p < len(r.candidates) for p in r.parents[i])
    assert set(r.per_val_instance_best_candidates) == set(r.highest_score_achieved_per_val_task) == ids
    assert set(r.best_outputs_valset) == ids
    for vid, outputs in r.best_outputs_valset.items():
        assert {i for i, _ in outputs} == set(r.per_val_instance_best_candidates[vid])
        assert all(isinstance(out, dspy.Prediction) for _, out in outputs)
        assert r.highest_score_achieved_per_val_task[vid] == max(s[vid] for s in r.val_subscores)
    assert r.num_full_val_evals >= len(r.candidates) and r.best_candidate is r.candidates[r.best_idx]


def test_staged_policy_lists_screened_only_candidates_apart():
    r = detailed("ours", track_best_outputs=False)
    assert r.screened_candidates, "expected the staged policy to screen some candidates"
    for c in r.screened_candidates:
        assert 0 < len(c.val_subscores) < len(VAL)
        assert all(p is None or 0 <= p < len(r.candidates) for p in c.parents)
    pools = sorted(r.pool_index + [c.pool_index for c in r.screened_candidates])
    assert pools == list(range(len(pools)))
    assert r.to_dict()["screened_candidates"][0]["candidate"] == r.screened_candidates[0].candidate


def test_track_best_outputs_validates_screened_candidates_while_the_budget_allows():
    without = detailed("ours", track_best_outputs=False)
    with_outputs = detailed("ours")
    assert len(with_outputs.screened_candidates) < len(without.screened_candidates)


class CrashesOnPlum(dspy.Module):
    def __init__(self):
        super().__init__()
        self.predict = dspy.Predict("word -> color")

    def forward(self, word):
        if word == "plum":
            raise RuntimeError("no plums")
        return self.predict(word=word)


@pytest.mark.parametrize("which", list(OPTIMIZERS))
def test_an_example_that_crashes_has_its_entries(which):
    r = detailed(which, CrashesOnPlum(), max_metric_calls=250)
    plum = [i for i, ex in enumerate(VAL) if ex.word == "plum"]
    assert plum
    for scores in r.val_subscores:
        assert all(scores[v] == 0.0 for v in plum)
    assert all(v in r.best_outputs_valset and v in r.per_val_instance_best_candidates for v in plum)
