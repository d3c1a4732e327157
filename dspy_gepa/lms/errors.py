"""Telling an LM provider's failure (bad key, unknown model, rate limits that outlasted retries) from a
failure of the program being optimized: the first stops the run, the second scores that example.

Provider failures are recognized by type, whatever LM class raised them: DSPy's ``LMError`` (what
``dspy.LM`` raises), the ``dspy.lm15`` errors and the exceptions of the provider SDKs (litellm, openai,
anthropic), which an old-style LM (a ``dspy.BaseLM`` subclass implementing ``forward``, still run by
DSPy 3.4) lets through unchanged. The SDKs' are matched by class name within their own modules, so none of
them is imported here.
"""

from __future__ import annotations

from typing import Any

from dspy.lm15 import ContextLengthError, LM15Error
from dspy.utils.exceptions import ContextWindowExceededError, LMError

from dspy_gepa._redact import lm_secrets, redact, scrub_exception
from dspy_gepa.exceptions import InfrastructureError

_PROVIDER_SDKS = ("litellm", "openai", "anthropic")
#: Errors about one request (its prompt or its content), which score that example like any program failure.
_ABOUT_THE_REQUEST = {"BadRequestError", "ContextWindowExceededError", "ContentPolicyViolationError",
                      "UnprocessableEntityError", "InvalidRequestError"}
#: Errors about the provider, the key or the account: every request would fail the same way.
_OUTAGES = {"AuthenticationError", "PermissionDeniedError", "NotFoundError", "RateLimitError", "PaymentRequiredError",
            "BudgetExceededError", "APIConnectionError", "APITimeoutError", "Timeout", "InternalServerError",
            "ServiceUnavailableError", "BadGatewayError"}
#: Where :func:`note_raised_by` keeps the model of the LM an exception came from.
_RAISED_BY = "_dspy_gepa_lm"


def is_provider_outage(exc: BaseException) -> bool:
    """Whether ``exc`` is a provider failure that retrying will not fix (see the module docstring).

    DSPy has already retried transient errors (``num_retries`` on ``dspy.LM``) by the time one reaches
    us, so every ``LMError`` is final except a prompt too long for the context window, which belongs
    to that one example."""
    if isinstance(exc, LMError):
        return not isinstance(exc, ContextWindowExceededError)
    if isinstance(exc, LM15Error):
        return not isinstance(exc, ContextLengthError)
    names = {cls.__name__ for cls in type(exc).__mro__ if cls.__module__.partition(".")[0] in _PROVIDER_SDKS}
    return bool(names & _OUTAGES) and not names & _ABOUT_THE_REQUEST


def note_raised_by(exc: BaseException, lm: Any) -> None:
    """Remember that ``lm`` raised ``exc`` (the innermost LM wins), so the error can name it."""
    model = getattr(lm, "model", None)
    if model and not getattr(exc, _RAISED_BY, None):
        try:
            setattr(exc, _RAISED_BY, str(model))
        except (AttributeError, TypeError):  # an exception type without instance attributes
            pass


def raise_if_infrastructure(exc: BaseException, lm: Any = None, secrets: Any = ()) -> None:
    """Re-raise a provider failure (:func:`is_provider_outage`) as :class:`InfrastructureError`.

    The error names the LM that raised it (noted by :func:`note_raised_by`, else the one the provider
    error names, else ``lm``). Provider errors may echo the key they refused: credentials (``lm``'s,
    the ``secrets`` given, the environment's, the LMs seen so far) are masked in the message and in the
    chained errors.
    """
    if not is_provider_outage(exc):
        return
    model = getattr(exc, _RAISED_BY, None) or getattr(exc, "model", None) or getattr(lm, "model", None)
    secrets = [*lm_secrets(lm), *secrets]
    scrub_exception(exc, secrets)
    raise InfrastructureError(
        f"The LM {model or '(unknown model)'} failed with {type(exc).__name__}: {redact(str(exc), secrets)}. "
        "This is not something more optimization can fix (check the API key, model name, quota or server), "
        "so the run stops; rerun with the same log_dir to resume without repeating recorded work.",
        lm=model, cause=exc,
    ) from exc
