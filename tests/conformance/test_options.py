"""The optimizer object itself: constructor, ``get_params``, ``auto_budget``, the budget after ``compile``,
and a reflection LM given as a string."""

from __future__ import annotations

import inspect

import dspy
import pytest

from dspy_gepa import GEPA, ConfigurationError

from ..helpers import Counter, metric, reflection_lm, split, task_lm
from .common import OPTIMIZERS, both, compile_with


def test_the_constructor_takes_every_dspy_gepa_keyword_with_its_default():
    ours, theirs = (inspect.signature(cls.__init__).parameters for cls in (GEPA, dspy.GEPA))
    for name, param in theirs.items():
        assert name in ours, name
        assert (ours[name].default, ours[name].kind) == (param.default, param.kind), name


def test_get_params_has_dspy_gepa_keys_holding_the_objects_passed():
    refl, proposer, selector = reflection_lm(), (lambda **kw: {}), (lambda **kw: ["self"])
    kwargs = dict(metric=metric, auto="light", reflection_lm=refl, instruction_proposer=proposer,
                  component_selector=selector, wandb_init_kwargs={"project": "p"},
                  gepa_kwargs={"stop_callbacks": []})
    params = both(lambda which: OPTIMIZERS[which](**kwargs).get_params())
    assert list(params["ours"])[:len(params["dspy"])] == list(params["dspy"])
    for key, value in params["dspy"].items():
        assert params["ours"][key] is value or params["ours"][key] == value, key
    assert params["ours"]["reflection_lm"] is refl and params["ours"]["metric_fn"] is metric
    assert params["ours"]["custom_instruction_proposer"] is proposer


@pytest.mark.parametrize("args", [(1, 6, 50), (3, 12, 100), (2, 18, 30), (5, 6, 7), (1, 18, 300), (2, 6, 40, 10, 3)])
def test_auto_budget_method(args):
    budgets = both(lambda which: OPTIMIZERS[which](metric=metric, auto="light",
                                                   reflection_lm=reflection_lm()).auto_budget(*args))
    assert budgets["ours"] == budgets["dspy"]


@pytest.mark.parametrize("budget", [{"auto": "light"}, {"max_full_evals": 2}, {"max_metric_calls": 60}])
def test_max_metric_calls_holds_the_resolved_budget_after_compile(budget):
    def run(which):
        optimizer = OPTIMIZERS[which](metric=metric, reflection_lm=reflection_lm(), **budget)
        train, val = split()
        with dspy.context(lm=task_lm()):
            optimizer.compile(dspy.Predict("word -> color"), trainset=train[:4], valset=val[:3])
        return optimizer.max_metric_calls, optimizer.get_params()["max_metric_calls"]

    calls = both(run)
    assert calls["ours"] == calls["dspy"]
    assert calls["ours"][0] is not None


def test_a_reflection_lm_given_as_a_string_is_refused_before_anything_is_spent():
    # dspy.GEPA accepts the string, spends its whole budget with every reflection failing, and returns
    # the seed; dspy-gepa refuses it when constructed.
    spent = Counter()
    program = compile_with("dspy", dspy.Predict("word -> color"), lm=task_lm(spent), reflection_lm="openai/gpt-4.1",
                           max_metric_calls=40, track_stats=True)
    assert spent.n >= 40 and len(program.detailed_results.candidates) == 1
    with pytest.raises(ConfigurationError, match=r"reflection_lm=dspy.LM\('openai/gpt-4.1'"):
        GEPA(metric=metric, max_metric_calls=40, reflection_lm="openai/gpt-4.1")
