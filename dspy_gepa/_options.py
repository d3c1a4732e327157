"""``GEPA``'s keywords: every check, the ``gepa_kwargs`` dspy.GEPA users pass, and the budget.

One home for these rules: ``GEPA.__init__`` calls :func:`check_keywords` before it stores anything, and
``compile``/``plan`` call :func:`resolve_budget`. Checks of single values shared with the engine's own
settings come from :mod:`dspy_gepa.engine.config`, so both are refused with the same words.
"""

from __future__ import annotations

import logging
from typing import Any

import dspy

from dspy_gepa.engine import AUTO_CANDIDATES, VAL_POLICIES, auto_budget
from dspy_gepa.engine.callbacks import check_callbacks
from dspy_gepa.engine.config import (
    CANDIDATE_SELECTION,
    COMPONENT_SELECTION,
    FRONTIER_TYPES,
    check_choice,
    check_positive_int,
    check_positive_number,
)
from dspy_gepa.engine.strategies import acceptance_criterion
from dspy_gepa.exceptions import ConfigurationError
from dspy_gepa.tracking import GEPA_KWARGS_KEYS as TRACKING_GEPA_KWARGS

logger = logging.getLogger(__name__)

#: gepa_kwargs keys dspy.GEPA forwards to the gepa package that dspy-gepa uses.
GEPA_KWARGS_SUPPORTED = {"stop_callbacks", "batch_sampler", "val_evaluation_policy", "callbacks", "sampling_strategy",
                         "selection_strategy", "acceptance_criterion", "frontier_type", *TRACKING_GEPA_KWARGS}
#: gepa_kwargs keys accepted with no effect, and why.
GEPA_KWARGS_IGNORED = {"use_cloudpickle": "the journal is JSON; nothing is pickled",
                       "merge_val_overlap_floor": "candidates are always validated on the whole valset",
                       "cache_evaluation": "every (candidate, example) evaluation is always kept and reused, so "
                                           "no rollout is ever paid twice",
                       "reflection_lm_kwargs": "dspy.GEPA ignores it too: the reflection LM is a dspy.LM"}
#: gepa_kwargs keys refused, and what to do instead.
GEPA_KWARGS_REFUSED = {
    "reflection_strategy": "dspy.GEPA refuses it too (its DSPy adapter proposes the texts); pass "
                           "instruction_proposer=... instead",
    "custom_candidate_proposer": "dspy.GEPA refuses it too; pass instruction_proposer=... instead",
    "max_reflection_cost": "pass max_cost=... (US dollars for every LM call of the run, reflection included)",
    "reflection_prompt_template": "pass instruction_proposer=InstructionProposer(additional_instructions=...) or your "
                                  "own proposer instead",
}
#: gepa.optimize keywords dspy.GEPA sets itself (passing them in gepa_kwargs is a TypeError there).
_OWN_KEYWORDS = {"candidate_selection_strategy", "reflection_minibatch_size", "module_selector", "skip_perfect_score",
                 "perfect_score", "use_merge", "max_merge_invocations", "max_metric_calls", "seed", "run_dir",
                 "track_best_outputs", "use_wandb", "wandb_api_key", "wandb_init_kwargs", "use_mlflow",
                 "reflection_lm", "logger", "display_progress_bar", "raise_on_exception", "seed_candidate",
                 "trainset", "valset", "adapter", "task_lm", "evaluator"}
#: Names ``val_evaluation_policy`` may also be given by (gepa's).
_POLICY_ALIASES = {"full_eval": "full"}


def check_keywords(*, auto: Any, max_full_evals: Any, max_metric_calls: Any, reflection_lm: Any,
                   instruction_proposer: Any, track_stats: bool, track_best_outputs: bool,
                   candidate_selection_strategy: Any, component_selector: Any, reflection_minibatch_size: Any,
                   num_threads: Any, max_concurrent_proposals: Any, max_cost: Any) -> None:
    """Refuse keyword values ``GEPA`` cannot use, before anything is stored or spent."""
    budgets = {"auto": auto, "max_full_evals": max_full_evals, "max_metric_calls": max_metric_calls}
    given = [k for k, v in budgets.items() if v is not None]
    if len(given) != 1:
        raise ConfigurationError(
            "Exactly one of auto, max_full_evals, max_metric_calls must be set; you set "
            + ", ".join(f"{k}={v!r}" for k, v in budgets.items()) + ".")
    if auto is not None:
        check_choice("auto", auto, list(AUTO_CANDIDATES))
    check_positive_int("max_full_evals", max_full_evals, allow_none=True)
    check_positive_int("max_metric_calls", max_metric_calls, allow_none=True)
    if reflection_lm is None and instruction_proposer is None:
        raise ConfigurationError(
            "GEPA needs a reflection LM or a custom instruction_proposer. A strong model pays off, e.g. "
            "reflection_lm=dspy.LM('openai/gpt-4.1', temperature=1.0, max_tokens=32000).")
    if isinstance(reflection_lm, str):
        raise ConfigurationError(
            f"reflection_lm must be a dspy.LM, not the string {reflection_lm!r}: pass "
            f"reflection_lm=dspy.LM({reflection_lm!r}, temperature=1.0, max_tokens=32000) (dspy.GEPA cannot use "
            "a string either: every reflection would fail).")
    if reflection_lm is not None and not isinstance(reflection_lm, dspy.BaseLM):
        raise ConfigurationError(f"reflection_lm must be a dspy.LM (a dspy.BaseLM), not {type(reflection_lm).__name__}.")
    if track_best_outputs and not track_stats:
        raise ConfigurationError("track_best_outputs=True requires track_stats=True.")
    if not callable(getattr(candidate_selection_strategy, "select_candidate_idx", None)):
        check_choice("candidate_selection_strategy", candidate_selection_strategy, CANDIDATE_SELECTION)
    check_choice("component_selector", component_selector, COMPONENT_SELECTION, or_callable=True)
    check_positive_int("reflection_minibatch_size", reflection_minibatch_size, allow_none=True)
    check_positive_int("num_threads", num_threads, allow_none=True)
    check_positive_int("max_concurrent_proposals", max_concurrent_proposals, allow_none=True)
    check_positive_number("max_cost", max_cost, " of US dollars")


def check_gepa_kwargs(kw: dict[str, Any], reflection_minibatch_size: Any = None) -> None:
    """Refuse ``gepa_kwargs`` dspy-gepa cannot use as given, saying what to do instead."""
    for key, instead in GEPA_KWARGS_REFUSED.items():
        if kw.get(key) is not None:
            raise ConfigurationError(f"gepa_kwargs[{key!r}] is not supported: {instead}.")
    own = sorted(set(kw) & _OWN_KEYWORDS)
    if own:
        raise ConfigurationError(f"gepa_kwargs {own} are set by GEPA's own keywords; pass them to GEPA(...) directly "
                                 "(dspy.GEPA raises a TypeError for these).")
    unknown = sorted(set(kw) - GEPA_KWARGS_SUPPORTED - set(GEPA_KWARGS_IGNORED) - set(GEPA_KWARGS_REFUSED))
    if unknown:
        raise ConfigurationError(f"gepa_kwargs {unknown} are not supported by dspy-gepa. Supported: "
                                 f"{sorted(GEPA_KWARGS_SUPPORTED | set(GEPA_KWARGS_IGNORED))}.")
    try:
        check_callbacks(as_list(kw.get("callbacks")))
    except TypeError as exc:
        raise ConfigurationError(f"gepa_kwargs['callbacks']: {exc}") from None
    sampler = kw.get("batch_sampler", "epoch_shuffled")
    if sampler != "epoch_shuffled":
        if not callable(getattr(sampler, "next_minibatch_ids", None)):
            raise ConfigurationError("gepa_kwargs['batch_sampler'] must be 'epoch_shuffled' or an object with "
                                     f"next_minibatch_ids(trainset, state), not {sampler!r}.")
        if reflection_minibatch_size is not None:
            raise ConfigurationError("gepa_kwargs['batch_sampler'] decides the minibatches, so set "
                                     "reflection_minibatch_size=None (as dspy.GEPA requires).")
    if kw.get("frontier_type", "instance") not in FRONTIER_TYPES:
        raise ConfigurationError(f"gepa_kwargs['frontier_type'] must be one of {', '.join(map(repr, FRONTIER_TYPES))}, "
                                 f"not {kw['frontier_type']!r}.")
    for key, method in (("sampling_strategy", "sample_tasks"), ("selection_strategy", "select")):
        if kw.get(key) is not None and not callable(getattr(kw[key], method, None)):
            raise ConfigurationError(f"gepa_kwargs[{key!r}] must be an object with a {method}(...) method (gepa's "
                                     f"strategies work as they are), not {kw[key]!r}.")
    try:
        acceptance_criterion(kw.get("acceptance_criterion"))
    except ValueError as exc:
        raise ConfigurationError(f"gepa_kwargs['acceptance_criterion']: {exc}.") from None
    for key, why in GEPA_KWARGS_IGNORED.items():
        if key in kw:
            logger.info("gepa_kwargs[%r] has no effect: %s.", key, why)


def resolve_policy(val_evaluation_policy: Any, gepa_kwargs: dict[str, Any]) -> str:
    """The validation policy: the keyword, or gepa's name for it in ``gepa_kwargs``."""
    policy = gepa_kwargs.get("val_evaluation_policy", val_evaluation_policy)
    policy = _POLICY_ALIASES.get(policy, policy)
    check_choice("val_evaluation_policy", policy, VAL_POLICIES)
    return policy


def check_prices(prices: Any) -> dict[str, tuple[float, float]]:
    if prices is None:
        return {}
    if not isinstance(prices, dict):
        raise ConfigurationError("lm_prices must map model strings to (usd_per_million_input_tokens, "
                                 "usd_per_million_output_tokens).")
    checked = {}
    for model, price in prices.items():
        try:
            p_in, p_out = (float(x) for x in price)
        except (TypeError, ValueError):
            raise ConfigurationError(f"lm_prices[{model!r}] must be a pair of numbers (USD per million input "
                                     f"tokens, USD per million output tokens), not {price!r}.") from None
        if p_in < 0 or p_out < 0:
            raise ConfigurationError(f"lm_prices[{model!r}] has a negative price: {price!r}.")
        checked[str(model)] = (p_in, p_out)
    return checked


def resolve_budget(*, auto: str | None, max_full_evals: int | None, max_metric_calls: int | None,
                   num_components: int, train_size: int, val_size: int | None) -> int:
    """Metric calls the run may spend, resolved like dspy.GEPA does from auto / max_full_evals
    (``val_size`` None: no separate valset was given)."""
    if auto is not None:
        return auto_budget(max(num_components, 1), AUTO_CANDIDATES[auto],
                           val_size if val_size is not None else train_size)
    if max_full_evals is not None:
        return max_full_evals * (train_size + (val_size or 0))
    return max_metric_calls


def as_list(value: Any) -> list:
    """A ``gepa_kwargs`` value that may be one object or several, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
