"""Pre-flight checks: one short, uncached call to each LM a run will use, before any budget is spent, so a
bad key, an unknown or retired model or an unreachable server fails in seconds with the LM named, not
after the seed's validation."""

from __future__ import annotations

import logging
from typing import Any

import dspy

from dspy_gepa._redact import lm_secrets, redact, scrub_exception
from dspy_gepa.exceptions import InfrastructureError
from dspy_gepa.lms.recording import Prices, record_lm_calls

logger = logging.getLogger(__name__)

PROMPT = "This is a connection check. Reply with the single word: OK"


def reaches_provider(lm: Any) -> bool:
    """True for an LM that calls a provider through DSPy (``dspy.LM("provider/model")``); False for a
    custom engine or a ``BaseLM`` subclass, which is the user's own code (scripted LMs in tests)."""
    return isinstance(lm, dspy.LM) and isinstance(getattr(lm, "engine", None), str)


def lms_to_check(predictors: list[tuple[str, Any]], reflection_lm: Any) -> list[tuple[str, Any]]:
    """(role, LM) for every distinct LM of the run: each predictor's own or the configured one, and the
    reflection LM (or the configured one, which a custom proposer would use)."""
    found: list[tuple[str, Any]] = []
    seen: set[int] = set()

    def add(role: str, lm: Any) -> None:
        if lm is not None and id(lm) not in seen:
            seen.add(id(lm))
            found.append((role, lm))

    for name, predictor in predictors:
        add(f"task LM of predictor {name!r}" if predictor.lm is not None else "task LM (dspy.configure)",
            predictor.lm or dspy.settings.lm)
    add("reflection LM", reflection_lm)
    return found


def run_preflight(lms: list[tuple[str, Any]], mode: bool | None, prices: Prices | None = None,
                  require_prices: bool = False) -> dict[str, Any] | None:
    """Call each LM once. ``mode``: None checks the LMs that reach a provider, True every LM, False none.
    Returns the usage of the checks (role ``preflight``); raises :class:`InfrastructureError` naming the
    LM that failed."""
    if mode is False:
        return None
    with record_lm_calls() as calls:
        for role, lm in lms:
            if mode is None and not reaches_provider(lm):
                continue
            model = getattr(lm, "model", type(lm).__name__)
            try:
                checker = lm.copy(cache=False) if isinstance(lm, dspy.LM) else lm
                checker(PROMPT)
            except Exception as exc:
                secrets = lm_secrets(lm)
                scrub_exception(exc, secrets)  # provider errors may echo the key they refused
                raise InfrastructureError(
                    f"Pre-flight check of the {role} ({model}) failed, before any budget was spent: "
                    f"{type(exc).__name__}: {redact(str(exc), secrets)}. Check its API key, model name and server, "
                    "or pass preflight=False to skip the check.", lm=model, cause=exc) from exc
            logger.info("Pre-flight check of the %s (%s): OK", role, model)
    usage = calls.usage(prices, require_prices=require_prices)
    return {"preflight": usage} if usage else None
