"""The engine's settings (:class:`EngineConfig`) and the argument checks shared with ``GEPA``'s keywords.

The checks live here, in the lowest layer that needs them, so the optimizer's keywords and the engine's
own settings are refused with the same words (``dspy_gepa._options`` calls these functions).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from dspy_gepa.exceptions import ConfigurationError

#: How an accepted child is validated: on every example ("full", the paper's), or on a random screen first
#: and on the rest only if it holds up there ("staged"; see ``proposals.validate``).
VAL_POLICIES = ("full", "staged")
CANDIDATE_SELECTION = ("pareto", "current_best", "epsilon_greedy", "top_k_pareto")
COMPONENT_SELECTION = ("round_robin", "all")
#: What Pareto fronts are kept over (gepa's ``frontier_type``; see ``State.front_mapping``).
FRONTIER_TYPES = ("instance", "objective", "hybrid", "cartesian")


def check_positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer{' or None' if allow_none else ''}, "
                                 f"not {value!r}.")


def check_positive_number(name: str, value: Any, unit: str = "", *, allow_none: bool = True) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigurationError(f"{name} must be a positive number{unit}, not {value!r}.")


def check_choice(name: str, value: Any, choices: Collection[str], *, or_callable: bool = False) -> None:
    if or_callable and callable(value):
        return
    if value not in choices:
        options = ", ".join(repr(c) for c in choices) + (", or a callable" if or_callable else "")
        raise ConfigurationError(f"{name} must be one of {options}; not {value!r}.")


def describe(strategy: Any) -> Any:
    """A strategy as the journal's fingerprint records it: its name, or its class and simple settings."""
    if strategy is None or isinstance(strategy, str):
        return strategy
    name = getattr(strategy, "__qualname__", None) or type(strategy).__qualname__
    try:
        params = inspect.signature(type(strategy).__init__).parameters
    except (TypeError, ValueError):
        params = {}
    settings = {k: v for k, v in sorted(getattr(strategy, "__dict__", {}).items())
                if k in params and isinstance(v, int | float | str | bool)}
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in settings.items())})" if settings else name


def default_concurrency(num_threads: int, minibatch_size: int) -> int:
    """Default cap on proposals in flight: enough to keep the threads busy on minibatch evaluations
    (each uses ``minibatch_size`` threads, twice per proposal), and no more."""
    return max(1, num_threads // (2 * minibatch_size))


@dataclass
class EngineConfig:
    """Knobs of the engine. Everything that changes decisions is in :meth:`fingerprint`."""

    max_metric_calls: int | None = None
    minibatch_size: int = 3
    candidate_selection: Any = "pareto"  # a name, or an object with select_candidate_idx(state)
    component_selector: str | Callable[..., Any] = "round_robin"
    skip_perfect_score: bool = True
    perfect_score: float = 1.0
    use_merge: bool = True
    max_merge_invocations: int = 5
    merge_subsample_size: int = 5
    seed: int = 0
    num_threads: int = 1
    max_concurrent_proposals: int = 1
    max_consecutive_failures: int = 5
    max_cost: float | None = None
    adaptive_concurrency: bool = True
    keep_val_outputs: bool = False
    val_policy: str = "full"
    screen_fraction: float = 0.25
    screen_min: int = 10
    stop_callbacks: Sequence[Callable[..., bool]] = ()
    #: gepa-style strategy objects (``gepa_kwargs``); None: the built-in behaviour (see ``strategies``).
    frontier_type: str = "instance"
    acceptance: Any = None
    sampling: Any = None
    selection: Any = None
    batch_sampler: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.candidate_selection, str) or not hasattr(self.candidate_selection, "select_candidate_idx"):
            check_choice("candidate_selection", self.candidate_selection, CANDIDATE_SELECTION)
        check_choice("component_selector", self.component_selector, COMPONENT_SELECTION, or_callable=True)
        for name in ("minibatch_size", "num_threads", "max_concurrent_proposals", "max_consecutive_failures",
                     "merge_subsample_size"):
            check_positive_int(name, getattr(self, name))
        check_choice("val_evaluation_policy", self.val_policy, VAL_POLICIES)
        check_choice("frontier_type", self.frontier_type, FRONTIER_TYPES)
        if not 0 < self.screen_fraction <= 1:
            raise ConfigurationError(f"screen_fraction must be in (0, 1], not {self.screen_fraction!r}.")
        check_positive_number("max_cost", self.max_cost, " of US dollars")
        check_positive_int("max_metric_calls", self.max_metric_calls, allow_none=True)

    def fingerprint(self) -> dict[str, Any]:
        return {
            "minibatch_size": self.minibatch_size,
            "candidate_selection": describe(self.candidate_selection),
            "component_selector": describe(self.component_selector),
            **{name: describe(getattr(self, name)) for name in ("acceptance", "sampling", "selection", "batch_sampler")
               if getattr(self, name) is not None},
            **({"frontier_type": self.frontier_type} if self.frontier_type != "instance" else {}),
            "skip_perfect_score": self.skip_perfect_score,
            "perfect_score": self.perfect_score,
            "use_merge": self.use_merge,
            "max_merge_invocations": self.max_merge_invocations,
            "merge_subsample_size": self.merge_subsample_size,
            "seed": self.seed,
            "max_concurrent_proposals": self.max_concurrent_proposals,
            "adaptive_concurrency": self.adaptive_concurrency,
            "val_policy": self.val_policy if self.val_policy == "full"
            else f"{self.val_policy}:{self.screen_fraction}:{self.screen_min}",
        }

    def screen_size(self, val_size: int) -> int:
        """Examples a child is screened on before its full validation (``val_size`` means no screen)."""
        if self.val_policy == "full":
            return val_size
        return min(val_size, max(self.screen_min, math.ceil(self.screen_fraction * val_size)))
