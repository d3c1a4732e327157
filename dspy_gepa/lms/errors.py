"""Telling an LM provider's failure (bad key, unknown model, rate limits that outlasted retries) from a
failure of the program being optimized: the first stops the run, the second scores that example."""

from __future__ import annotations

from typing import Any

from dspy.utils.exceptions import ContextWindowExceededError, LMError

from dspy_gepa._redact import lm_secrets, redact, scrub_exception
from dspy_gepa.exceptions import InfrastructureError


def raise_if_infrastructure(exc: BaseException, lm: Any = None, secrets: Any = ()) -> None:
    """Re-raise a provider failure that retrying will not fix as :class:`InfrastructureError`.

    DSPy has already retried transient errors (``num_retries`` on ``dspy.LM``) by the time one reaches
    us, so every ``LMError`` is final except a prompt too long for the context window, which belongs
    to that one example. Provider errors may echo the key they refused: credentials (``lm``'s, the
    ``secrets`` given, the environment's) are masked in the message and in the chained errors.
    """
    if isinstance(exc, LMError) and not isinstance(exc, ContextWindowExceededError):
        model = getattr(exc, "model", None) or getattr(lm, "model", None)
        secrets = [*lm_secrets(lm), *secrets]
        scrub_exception(exc, secrets)
        raise InfrastructureError(
            f"The LM {model or '(unknown model)'} failed with {type(exc).__name__}: {redact(str(exc), secrets)}. "
            "This is not something more optimization can fix (check the API key, model name, quota or server), "
            "so the run stops; rerun with the same log_dir to resume without repeating recorded work.",
            lm=model, cause=exc,
        ) from exc
