"""Seeing the LM calls made inside a block of code, with their tokens and dollars.

DSPy records every LM call in the ``history`` of each module listed in ``settings.caller_modules``
(the chain of modules being called). Adding a private recorder to that chain for the duration of a
``dspy.context`` makes it see exactly the calls made in this context — on this thread, by the program,
its metric or a proposer — with their usage, cost and finish reason.

:func:`watch_lms` sees the LM *objects* called in a block (through a DSPy callback), to learn the
credentials of LMs that nothing else tells us about — a judge LM inside the metric — and which LM
raised an error. An active callback makes DSPy wrap every module and LM call with bookkeeping, so it
is used around the metric and the proposer, not around the program's own (many, possibly fast) calls.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dspy
from dspy.utils.callback import BaseCallback

from dspy_gepa._redact import lm_secrets, remember_secrets
from dspy_gepa.exceptions import ConfigurationError
from dspy_gepa.lms.errors import note_raised_by

#: Prices per model string, in USD per million (input tokens, output tokens).
Prices = dict[str, tuple[float, float]]


@dataclass
class CallRecorder:
    history: list[dict[str, Any]] = field(default_factory=list)

    def finish_reasons(self) -> list[str | None]:
        return [finish_reason(entry) for entry in self.history]

    def usage(self, prices: Prices | None = None, *, require_prices: bool = False) -> dict[str, Any]:
        """Tokens and dollars per model (see :mod:`dspy_gepa.engine.usage`). A price given in ``prices``
        (USD per million input and output tokens) wins over the one DSPy/litellm computed; calls served
        from DSPy's cache cost nothing; a call with no price anywhere is counted as unpriced, or is an
        error when ``require_prices``."""
        per_model: dict[str, dict[str, Any]] = {}
        for entry in self.history:
            model = str(entry.get("model"))
            row = per_model.setdefault(model, {"calls": 0, "cached": 0, "input_tokens": 0, "output_tokens": 0,
                                               "cost": 0.0, "unpriced": 0})
            row["calls"] += 1
            if is_cache_hit(entry):
                row["cached"] += 1
                continue
            usage = entry.get("usage") or {}
            n_in, n_out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            row["input_tokens"] += n_in
            row["output_tokens"] += n_out
            price = (prices or {}).get(model)
            cost = (n_in * price[0] + n_out * price[1]) / 1e6 if price is not None else entry.get("cost")
            if cost is None:
                if require_prices:
                    raise ConfigurationError(
                        f"The LM {model} has no known price, and require_prices=True. Give one with "
                        f"lm_prices={{{model!r}: (usd_per_million_input_tokens, usd_per_million_output_tokens)}}.")
                row["unpriced"] += 1
            else:
                row["cost"] += float(cost)
        return per_model


def is_cache_hit(entry: dict[str, Any]) -> bool:
    """DSPy 3.4 serves a cached call with an empty ``usage`` (and, on its native path, the *original*
    call's cost and no cache flag in the history entry), so an empty usage is the sign to go by."""
    return bool(getattr(entry.get("response"), "cache_hit", False)) or not entry.get("usage")


def finish_reason(entry: dict[str, Any]) -> str | None:
    response = entry.get("response")
    reason = getattr(response, "finish_reason", None)
    if reason is None:
        choices = getattr(response, "choices", None) or []
        if choices:
            reason = getattr(choices[0], "finish_reason", None)
    return reason


@contextlib.contextmanager
def record_lm_calls(**context: Any) -> Iterator[CallRecorder]:
    recorder = CallRecorder()
    # Appended, not replacing: an enclosing recorder keeps seeing the calls made in here.
    with dspy.context(caller_modules=[*(dspy.settings.caller_modules or []), recorder], **context):
        yield recorder


class _LMWatcher(BaseCallback):
    """Remembers the credentials of every LM that starts a call, and notes which LM raised an error."""

    def __init__(self) -> None:
        self._calls: dict[str, Any] = {}

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        remember_secrets(lm_secrets(instance))
        self._calls[call_id] = instance

    def on_lm_end(self, call_id: str, outputs: Any, exception: Exception | None = None) -> None:
        lm = self._calls.pop(call_id, None)
        if exception is not None:
            note_raised_by(exception, lm)


_watcher = _LMWatcher()


@contextlib.contextmanager
def watch_lms() -> Iterator[None]:
    """Watch the LMs called in this block (see the module docstring)."""
    callbacks = dspy.settings.callbacks or []
    if _watcher in callbacks:
        yield
        return
    with dspy.context(callbacks=[*callbacks, _watcher]):
        yield
