"""The feedback metric: calling it, and reading what it returns.

The metric runs with its LM calls watched (:func:`~dspy_gepa.lms.recording.watch_lms`): a judge LM's
credentials are masked from then on, and its outage is reported as the judge's.
"""

from __future__ import annotations

import decimal
import inspect
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import dspy

from dspy_gepa._redact import redact
from dspy_gepa.exceptions import MetricError
from dspy_gepa.lms.errors import raise_if_infrastructure
from dspy_gepa.lms.recording import watch_lms

METRIC_SIGNATURE = "metric(gold, pred, trace=None, pred_name=None, pred_trace=None)"


class ScoreWithFeedback(dspy.Prediction):
    """What a feedback metric may return: a score and the text that explains it.

    It is a ``dspy.Prediction``, so the same metric also works with ``dspy.Evaluate`` (which compares
    and adds predictions by their ``score``).
    """

    def __init__(self, score: float, feedback: str | None = None, **kwargs: Any):
        super().__init__(score=score, feedback=feedback, **kwargs)


def metric_name(metric: Callable[..., Any]) -> str:
    return getattr(metric, "__qualname__", None) or getattr(metric, "__name__", None) or type(metric).__name__


def check_metric_signature(metric: Any) -> None:
    """GEPA calls the metric with five positional arguments; refuse early a metric that cannot take them."""
    if not callable(metric):
        raise TypeError(f"metric must be callable with the signature {METRIC_SIGNATURE}, not {metric!r}.")
    try:
        inspect.signature(metric).bind(None, None, None, None, None)
    except TypeError as exc:
        raise TypeError(
            f"GEPA metric {metric_name(metric)} must accept five arguments: {METRIC_SIGNATURE}. "
            f"Add the missing parameters with default None ({exc})."
        ) from exc
    except ValueError:  # builtins without an inspectable signature: trust them
        pass


def _plain_number(value: Any) -> Any:
    """A numeric scalar of another library as a Python number: numpy scalars and 0-d arrays (a metric
    returning ``np.mean(...)`` or ``a == b`` on numpy values), ``decimal.Decimal``; anything else unchanged."""
    if isinstance(value, bool | numbers.Real):
        return value
    if isinstance(value, decimal.Decimal):
        try:
            return float(value)
        except ValueError:  # a signaling NaN
            return value
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str | bytes) and tuple(getattr(value, "shape", (None,))) == ():
        try:
            plain = item()
        except Exception:
            return value
        if isinstance(plain, bool | numbers.Real):
            return plain
    return value


def _shown(value: Any) -> str:
    """``repr(value)``, cut short: a metric's value can be a number with thousands of digits."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's limit for converting to text
        return f"<an {type(value).__name__} of {value.bit_length()} bits>"
    return text if len(text) <= 200 else f"{text[:100]}...<{len(text) - 110} more characters>...{text[-10:]}"


def _as_score(value: Any, metric: Callable[..., Any], context: str) -> float:
    value = _plain_number(value)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        try:
            score = float(value)
        except OverflowError:  # a huge int or Fraction
            score = math.inf
        if math.isfinite(score):
            return score
        raise MetricError(f"Metric {metric_name(metric)} returned the score {_shown(value)} {context}; scores must be "
                          "finite numbers. Make it return a float such as 0.0 for a failure.")
    raise MetricError(f"Metric {metric_name(metric)} returned a score of type {type(value).__name__} ({value!r:.200}) "
                      f"{context}; expected a number. Return a float, or ScoreWithFeedback(score=..., feedback=...).")


def read_metric_result(result: Any, metric: Callable[..., Any], context: str) -> tuple[float, str | None]:
    """(score, feedback) from a number, a ``ScoreWithFeedback`` / prediction / mapping with ``score`` and
    optional ``feedback``. Anything else — None, a string, NaN, a dict without a score — is an error
    naming the metric and the value. Numeric scalars of numpy and ``Decimal`` count as numbers."""
    result = _plain_number(result)
    if isinstance(result, bool | numbers.Real):
        return _as_score(result, metric, context), None
    if isinstance(result, dspy.Example | Mapping):
        if "score" not in result:
            raise MetricError(f"Metric {metric_name(metric)} returned {result!r:.200} {context}, which has no 'score'. "
                              "Return ScoreWithFeedback(score=..., feedback=...) or a float.")
        feedback = result.get("feedback")
    elif hasattr(result, "score") and not isinstance(result, str | bytes):
        feedback = getattr(result, "feedback", None)
        result = {"score": result.score}
    else:
        hint = ("Return ScoreWithFeedback(score=..., feedback=...) instead of a tuple."
                if isinstance(result, tuple) else
                "Return a float (0.0 for a failure) or ScoreWithFeedback(score=..., feedback=...).")
        raise MetricError(f"Metric {metric_name(metric)} returned {result!r:.200} (type {type(result).__name__}) "
                          f"{context}; expected a score. {hint}")
    score = _as_score(result["score"], metric, context)
    if feedback is not None and not isinstance(feedback, str):
        feedback = str(feedback)
    return score, feedback


def read_objectives(result: Any, metric: Callable[..., Any], context: str) -> dict[str, float] | None:
    """The multi-objective scores a metric returned beside its score (``objective_scores={name: score}``
    on a ``ScoreWithFeedback`` or mapping), or None."""
    if isinstance(result, dspy.Example | Mapping):
        value = result.get("objective_scores")
    else:
        value = getattr(result, "objective_scores", None)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise MetricError(f"Metric {metric_name(metric)} returned objective_scores={value!r:.200} {context}; expected "
                          "a dict mapping objective names to numbers.")
    return {name: _as_score(score, metric, f"{context} (objective {name!r})") for name, score in value.items()} or None


def default_feedback(score: float) -> str:
    return f"This output received a score of {score:g} (the metric gave no written feedback)."


def call_metric(metric: Callable[..., Any], gold: Any, pred: Any, trace: Any, pred_name: str | None,
                pred_trace: Any, context: str) -> tuple[float, str | None]:
    """Call the user's metric for feedback; its own exceptions become a :class:`MetricError` that names it."""
    return read_metric_result(_invoke(metric, (gold, pred, trace, pred_name, pred_trace), {}, context), metric, context)


def score_rollout(metric: Callable[..., Any], gold: Any, pred: Any, context: str, *,
                  program_trace: Any = None) -> tuple[float, str | None, dict[str, float] | None]:
    """Score one rollout (``trace=None``, as ``dspy.Evaluate`` does): (score, feedback, objective scores).
    ``program_trace`` reaches a metric that declares that parameter (programs with ``dspy.Flex`` parts)."""
    kwargs = {"program_trace": program_trace} if program_trace is not None and declares(metric, "program_trace") else {}
    result = _invoke(metric, (gold, pred, None, None, None), kwargs, context)
    return (*read_metric_result(result, metric, context), read_objectives(result, metric, context))


def declares(metric: Callable[..., Any], parameter: str) -> bool:
    try:
        return parameter in inspect.signature(metric).parameters
    except (TypeError, ValueError):
        return False


def _invoke(metric: Callable[..., Any], args: tuple, kwargs: dict[str, Any], context: str) -> Any:
    try:
        with watch_lms():
            return metric(*args, **kwargs)
    except MetricError:
        raise
    except Exception as exc:
        raise_if_infrastructure(exc)
        raise MetricError(f"Metric {metric_name(metric)} raised {type(exc).__name__}: {redact(str(exc))} {context}. "
                          "Fix the metric "
                          "(a metric should score a bad prediction low rather than raise).") from exc
