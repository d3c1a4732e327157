"""Tokens and dollars of every LM call, pre-flight checks and the budget preview. That ``max_cost`` is kept and
cache hits cost nothing is pinned with the budget invariant, in ``tests/invariants/test_budget.py``."""


import dspy
import dspy.lm15
import pytest

from dspy_gepa import GEPA, ConfigurationError, InfrastructureError
from dspy_gepa.testing import scripted_lm

from .helpers import Counter, TwoStep, metric, reflection_lm, split, task_lm

PRICES = {"scripted/task": (1.0, 2.0), "scripted/reflection": (10.0, 20.0), "scripted/judge": (5.0, 5.0)}


JUDGE = scripted_lm(lambda call: {"verdict": "fine"}, "scripted/judge")


def judged_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    """The usual metric, after asking an LM judge (its calls are the 'judge' role)."""
    with dspy.context(lm=JUDGE):
        dspy.Predict("answer -> verdict")(answer=pred.color)
    return metric(gold, pred, trace, pred_name, pred_trace)


def optimize(log_dir=None, *, task=None, program=None, **kw):
    kw.setdefault("max_metric_calls", 120)
    kw.setdefault("lm_prices", PRICES)
    kw.setdefault("preflight", True)
    with dspy.context(lm=task or task_lm()):
        return GEPA(metric=judged_metric, reflection_lm=kw.pop("reflection", None) or reflection_lm(),
                    track_stats=True, log_dir=log_dir, num_threads=2, **kw).compile(
            program or TwoStep(), trainset=split()[0], valset=split()[1])


def history_cost(lm, price):
    tokens_in = sum(h["usage"]["prompt_tokens"] for h in lm.history)
    tokens_out = sum(h["usage"]["completion_tokens"] for h in lm.history)
    return tokens_in, tokens_out, (tokens_in * price[0] + tokens_out * price[1]) / 1e6


def test_usage_and_cost_of_every_role_match_the_lms_own_records():
    task, refl = task_lm(), reflection_lm()
    JUDGE.history.clear()
    r = optimize(task=task, reflection=refl).detailed_results
    assert set(r.usage) == {"task", "judge", "reflection", "preflight"}
    for role, lm in (("task", task), ("reflection", refl), ("judge", JUDGE)):
        n_in, n_out, dollars = history_cost(lm, PRICES[lm.model])
        row = r.usage[role]
        assert (row["input_tokens"], row["output_tokens"]) == (n_in, n_out), role
        assert row["cost"] == pytest.approx(dollars), role
        assert row["unpriced"] == 0
    assert r.usage["preflight"]["calls"] == 2  # the task LM and the reflection LM; the judge is the metric's own
    assert r.total_cost == pytest.approx(sum(row["cost"] for row in r.usage.values()))
    assert sum(p["cost"] for p in r.proposals) == pytest.approx(r.total_cost - r.usage["preflight"]["cost"])
    assert r.proposals[-1]["total_cost"] == pytest.approx(r.total_cost)
    assert len(r.discovery_costs) == len(r.candidates)
    assert r.discovery_costs == sorted(r.discovery_costs)


def test_unpriced_calls_are_counted_not_guessed():
    r = optimize(lm_prices={}).detailed_results
    assert r.total_cost is None
    assert r.usage["task"]["unpriced"] == r.usage["task"]["calls"] > 0 and r.usage["task"]["cost"] == 0


def test_require_prices_refuses_an_unpriced_lm_before_any_rollout():
    calls = Counter()
    with pytest.raises(ConfigurationError, match=r"scripted/task has no known price.*lm_prices="):
        optimize(task=task_lm(calls), lm_prices={"scripted/reflection": (1, 1)}, require_prices=True)
    assert calls.n == 1  # the pre-flight call, nothing else


def test_cost_survives_resume(tmp_path):
    reference = optimize(preflight=False).detailed_results
    calls = Counter()
    with pytest.raises(KeyboardInterrupt):
        optimize(tmp_path, task=task_lm(calls, stop_after=40), preflight=False)
    resumed = optimize(tmp_path, preflight=False).detailed_results
    assert resumed.total_cost == pytest.approx(reference.total_cost)
    assert resumed.usage.keys() == reference.usage.keys()
    for role, row in reference.usage.items():
        assert resumed.usage[role] == pytest.approx(row), role
    # A pre-flight check is paid again by each session, and counted.
    again = optimize(tmp_path, preflight=True).detailed_results
    assert again.usage["preflight"]["calls"] == 2 and again.total_cost > reference.total_cost


def test_preflight_names_the_failing_lm_before_spending():
    calls = Counter()

    def denied(call):
        raise dspy.lm15.AuthError("invalid api key")

    with pytest.raises(InfrastructureError, match=r"Pre-flight check of the reflection LM \(scripted/denied\)"):
        optimize(task=task_lm(calls), reflection=scripted_lm(denied, "scripted/denied"))
    assert calls.n == 1  # only the task LM's pre-flight call: no rollout was run


def test_preflight_reaches_real_providers_by_default_and_skips_custom_engines():
    unreachable = dspy.LM("openai/gpt-4.1-mini", api_base="http://127.0.0.1:9/v1", api_key="sk-test", num_retries=0)
    with pytest.raises(InfrastructureError, match=r"reflection LM \(openai/gpt-4.1-mini\) failed") as info:
        optimize(reflection=unreachable, preflight=None)
    assert "sk-test" not in str(info.value)
    calls = Counter()
    optimize(task=task_lm(calls), preflight=None, max_metric_calls=40)  # scripted LMs: nothing to check
    r_calls = calls.n
    calls2 = Counter()
    optimize(task=task_lm(calls2), preflight=False, max_metric_calls=40)
    assert r_calls == calls2.n


def test_plan_previews_the_budget_and_cost(tmp_path):
    gepa = GEPA(metric=judged_metric, max_metric_calls=120, reflection_lm=reflection_lm(), lm_prices=PRICES,
                log_dir=str(tmp_path), preflight=False)
    train, val = split()
    with dspy.context(lm=task_lm()):
        p = gepa.plan(TwoStep(), train, val)
        assert (p.seed_validation, p.per_rejected_proposal, p.per_accepted_proposal) == (8, 6, 14)
        # a proposal starts only when its worst case (14) fits: the last one starts with 14 or more left
        assert (p.proposals_min, p.proposals_max) == ((120 - 8) // 14, (120 - 8 - 14) // 6 + 1)
        assert p.estimated_cost is None and "unknown" in str(p)
        probed = gepa.plan(TwoStep(), train, val, probe=2)
        assert probed.cost_per_rollout > 0 and "2 probe rollouts" in str(probed)
        gepa.compile(TwoStep(), trainset=train, valset=val)
        after = gepa.plan(TwoStep(), train, val)
    low, high = after.estimated_cost
    assert after.cost_per_reflection > 0 and 0 < low <= high
    assert "the journal in" in str(after)


def test_staged_preview_keeps_the_final_reserve():
    gepa = GEPA(metric=metric, max_metric_calls=300, reflection_lm=reflection_lm(), preflight=False)
    data = split()[0] * 6
    with dspy.context(lm=task_lm()):
        p = gepa.plan(dspy.Predict("word -> color"), data[:10], data[:60])
    assert (p.screen_size, p.final_reserve, p.per_accepted_proposal) == (15, 45, 21)
    assert p.proposals_min == (300 - 60 - 45) // 21


@pytest.mark.parametrize("kwargs,match", [({"max_cost": 0}, "max_cost"), ({"max_cost": "1"}, "max_cost"),
                                          ({"lm_prices": {"m": (1,)}}, "pair of numbers"),
                                          ({"lm_prices": {"m": (-1, 1)}}, "negative")])
def test_bad_cost_options_are_refused(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        GEPA(metric=metric, max_metric_calls=10, reflection_lm=reflection_lm(), **kwargs)
