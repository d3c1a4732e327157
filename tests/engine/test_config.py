"""The engine's settings and the argument checks shared with ``GEPA``'s keywords (``engine/config.py``)."""

import re

import pytest

from dspy_gepa.engine.config import EngineConfig, check_positive_number, default_concurrency
from dspy_gepa.exceptions import ConfigurationError


@pytest.mark.parametrize("kwargs,message", [
    ({"candidate_selection": "best"}, "candidate_selection must be one of 'pareto', 'current_best', 'epsilon_greedy', 'top_k_pareto'; not 'best'."),
    ({"component_selector": "random"},
     "component_selector must be one of 'round_robin', 'all', or a callable; not 'random'."),
    ({"minibatch_size": 0}, "minibatch_size must be a positive integer, not 0."),
    ({"num_threads": True}, "num_threads must be a positive integer, not True."),
    ({"num_threads": 2.0}, "num_threads must be a positive integer, not 2.0."),
    ({"max_concurrent_proposals": -1}, "max_concurrent_proposals must be a positive integer, not -1."),
    ({"max_consecutive_failures": 0}, "max_consecutive_failures must be a positive integer, not 0."),
    ({"merge_subsample_size": None}, "merge_subsample_size must be a positive integer, not None."),
    ({"val_policy": "lazy"}, "val_evaluation_policy must be one of 'full', 'staged'; not 'lazy'."),
    ({"screen_fraction": 0}, "screen_fraction must be in (0, 1], not 0."),
    ({"screen_fraction": 1.5}, "screen_fraction must be in (0, 1], not 1.5."),
    ({"max_cost": 0}, "max_cost must be a positive number of US dollars, not 0."),
    ({"max_cost": True}, "max_cost must be a positive number of US dollars, not True."),
    ({"max_cost": "1"}, "max_cost must be a positive number of US dollars, not '1'."),
    ({"max_metric_calls": 0}, "max_metric_calls must be a positive integer or None, not 0."),
])
def test_bad_settings_are_refused_with_what_is_allowed(kwargs, message):
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        EngineConfig(**kwargs)


def test_good_settings_are_accepted():
    EngineConfig(component_selector=lambda **kw: ["a"], max_cost=0.5, max_metric_calls=None, screen_fraction=1)
    check_positive_number("x", None)
    with pytest.raises(ConfigurationError, match="x must be a positive number, not None."):
        check_positive_number("x", None, allow_none=False)


@pytest.mark.parametrize("policy,val_size,screen", [
    ("full", 40, 40),
    ("staged", 40, 10),  # max(10, ceil(0.25 x 40))
    ("staged", 41, 11),  # ceil(10.25)
    ("staged", 60, 15),
    ("staged", 8, 8),  # never more than the valset
])
def test_screen_size(policy, val_size, screen):
    assert EngineConfig(val_policy=policy).screen_size(val_size) == screen


def test_fingerprint_holds_what_changes_decisions_and_nothing_else():
    def pick(**kwargs):
        return ["a"]

    fp = EngineConfig(num_threads=8, max_metric_calls=50, max_cost=1.0, component_selector=pick,
                      val_policy="staged").fingerprint()
    assert fp["component_selector"] == pick.__qualname__ and fp["val_policy"] == "staged:0.25:10"
    assert {"num_threads", "max_metric_calls", "max_cost", "keep_val_outputs", "stop_callbacks",
            "max_consecutive_failures"}.isdisjoint(fp)
    assert EngineConfig().fingerprint()["val_policy"] == "full"
    assert EngineConfig(seed=1).fingerprint() != EngineConfig().fingerprint()


@pytest.mark.parametrize("threads,minibatch,concurrency", [(16, 3, 2), (12, 3, 2), (4, 3, 1), (1, 1, 1), (32, 1, 16)])
def test_default_concurrency_keeps_the_threads_busy(threads, minibatch, concurrency):
    assert default_concurrency(threads, minibatch) == concurrency
