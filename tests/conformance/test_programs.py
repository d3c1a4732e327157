"""Programs that copy their predictors inside ``forward`` (``dspy.BestOfN``, ``dspy.Refine``, user code)
optimize under both optimizers, and the copy runs as itself: its own LM, rollout id and temperature."""

from __future__ import annotations

import dspy
import pytest

from dspy_gepa.testing import scripted_lm

from ..helpers import Counter, examples, metric, rule_for
from .common import OPTIMIZERS, compile_with


def recording_task_lm(seen: list):
    """The word-color task LM, recording each call's temperature and model."""
    def respond(call):
        seen.append((call.model, call.request.config.temperature))
        return {"color": rule_for(call.system, call.field("word")) or "unknown"}

    return scripted_lm(respond, "scripted/task")


class CopiesItsPredictor(dspy.Module):
    """Runs a deep copy of its predictor on an LM of its own, as user code does."""

    def __init__(self, copy_lm):
        super().__init__()
        self.predict = dspy.Predict("word -> color")
        self.copy_lm = copy_lm

    def forward(self, word):
        clone = self.predict.deepcopy()
        clone.set_lm(self.copy_lm)
        return clone(word=word)


@pytest.mark.parametrize("which", list(OPTIMIZERS))
def test_a_predictor_copied_in_forward_runs_the_copy_with_its_own_lm(which):
    default_calls, copy_calls = [], []
    copy_lm = recording_task_lm(copy_calls)
    program = compile_with(which, CopiesItsPredictor(copy_lm), lm=recording_task_lm(default_calls),
                           max_metric_calls=80, track_stats=True)
    assert copy_calls and not default_calls  # every task call went to the copy's own LM
    r = program.detailed_results
    assert max(r.val_aggregate_scores) > r.val_aggregate_scores[0]  # its traces fed reflection


@pytest.mark.parametrize("which", list(OPTIMIZERS))
def test_best_of_n_attempts_keep_their_temperature_during_compile(which):
    seen = []
    student = dspy.BestOfN(module=dspy.Predict("word -> color"), N=2, threshold=1.0,
                           reward_fn=lambda args, pred: float(pred.color != "unknown"))
    program = compile_with(which, student, lm=recording_task_lm(seen), max_metric_calls=80, track_stats=True)
    assert seen and {t for _, t in seen} == {1.0}  # every attempt ran on its copy's LM (temperature=1.0)
    r = program.detailed_results
    assert max(r.val_aggregate_scores) > r.val_aggregate_scores[0]


@pytest.mark.parametrize("which", list(OPTIMIZERS))
def test_refine_as_the_student_is_optimized(which):
    calls = Counter()
    student = dspy.Refine(module=dspy.Predict("word -> color"), N=2, threshold=1.0,
                          reward_fn=lambda args, pred: float(pred.color != "unknown"))

    def respond(call):  # answers the task, and Refine's feedback step (discussion, advice) when it asks
        calls.bump()
        return {"color": rule_for(call.system, call.field("word") or "") or "unknown",
                "discussion": "Try harder.", "advice": {"self": "Use the rules."}}

    data = examples()
    program = compile_with(which, student, lm=scripted_lm(respond, "scripted/task"), trainset=data[:8],
                           valset=data[:8], max_metric_calls=120, track_stats=True, metric=metric)
    r = program.detailed_results
    assert calls.n > 0
    assert max(r.val_aggregate_scores) > r.val_aggregate_scores[0]
