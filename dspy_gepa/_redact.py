"""Keeping credentials out of everything dspy-gepa writes, logs or raises.

Provider errors sometimes echo the key they refused, and a program's LMs may carry an API key or an
``Authorization`` header. Text that leaves the process — error messages (and the exceptions they chain
to), journal records, log lines, tracker values, prompts to the reflection LM — goes through
:func:`redact`: values shaped like credentials are masked, and so are exact values that have no
telltale shape (an Azure key is plain hex): those of environment variables named like secrets
(``OPENAI_API_KEY``, ``GEMINI_API_KEY``, ``HF_TOKEN``, ...) and the credentials of every LM the process
has seen (:func:`remember_secrets`, fed as LMs are called: a judge LM inside the metric is known only
then). Saved programs go through :func:`scrub_state`, which masks values stored under secret-looking keys
(``api_key``, ``Authorization`` headers) and nothing else, so instructions are never altered.

Every pattern takes time linear in the text: failed rollouts' errors embed whole LM replies, and a
degenerate reply (64k times "a") must not stall the run.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SECRET_NAME = re.compile(r"api[_-]?key|token|secret|password|passwd|authorization|credential", re.I)
MASK = "***"
_SECRET_VALUE = [
    (re.compile(r"\b(sk|pk|rk|sess|key)-[A-Za-z0-9_\-]{6,}"), r"\1-***"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{6,}"), r"\1 ***"),
    (re.compile(r"(?i)((?:api[_-]?key|token|secret|password|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"),
     r"\1***"),
    # user:password@ in a URL. The scheme is bounded and starts where no scheme character precedes it, so a
    # long run of letters is not rescanned from every position.
    (re.compile(r"(?<![A-Za-z0-9+.\-])([A-Za-z][A-Za-z0-9+.\-]{0,31}://)[^/\s:@]+:[^/\s@]+@"), r"\1***@"),
]
#: Environment values shorter than this are not treated as secrets (flags such as TOKENIZERS_PARALLELISM=true).
_MIN_SECRET_LENGTH = 12
#: Credentials of the LMs seen in this process (:func:`remember_secrets`); replaced whole, never mutated, so
#: threads read it without a lock.
_remembered: frozenset[str] = frozenset()
_remember_lock = threading.Lock()


def remember_secrets(values: Iterable[Any]) -> None:
    """Mask these values in everything :func:`redact` sees from now on, in this process."""
    global _remembered
    new = {v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET_LENGTH} - _remembered
    if new:
        with _remember_lock:
            _remembered = _remembered | new


def known_secrets(extra: Iterable[Any] = ()) -> list[str]:
    """Values of environment variables named like secrets, the remembered LM credentials, plus ``extra``
    strings; longest first."""
    values = {v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LENGTH}
    values |= _remembered
    values |= {v for v in extra if isinstance(v, str) and len(v) >= _MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact(text: str, extra: Iterable[Any] = ()) -> str:
    """``text`` with credentials masked (see the module docstring)."""
    for secret in known_secrets(extra):
        text = text.replace(secret, MASK)
    for pattern, replacement in _SECRET_VALUE:
        text = pattern.sub(replacement, text)
    return text


def lm_secrets(lm: Any) -> list[str]:
    """The API key and secret-looking header values an LM object carries (to be masked wherever they appear)."""
    kwargs = getattr(lm, "kwargs", None) or {}
    found = [kwargs.get("api_key")]
    for name in ("headers", "extra_headers"):
        headers = kwargs.get(name) or {}
        if isinstance(headers, dict):
            found += [v for k, v in headers.items() if SECRET_NAME.search(str(k))]
    return [v for v in found if isinstance(v, str) and v]


def scrub_exception(exc: BaseException, extra: Iterable[Any] = ()) -> None:
    """Mask credentials in ``exc`` and the exceptions it chains to, in place: Python prints the whole
    chain for an uncaught error, and provider errors keep their text in ``args`` and ``message``."""
    extra = list(extra)
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        try:
            exc.args = tuple(redact(a, extra) if isinstance(a, str) else a for a in exc.args)
            if isinstance(getattr(exc, "message", None), str):
                exc.message = redact(exc.message, extra)
        except (AttributeError, TypeError):  # an exception type with read-only attributes
            pass
        exc = exc.__cause__ or exc.__context__


def scrub_state(value: Any) -> Any:
    """A copy of a saved program's JSON state with the values of secret-named keys masked."""
    if isinstance(value, dict):
        return {k: (MASK if isinstance(v, str) and SECRET_NAME.search(str(k)) else scrub_state(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_state(v) for v in value]
    return value


def scrub_saved_program(path: str | os.PathLike) -> None:
    """Rewrite a ``program.save`` JSON file without credentials (DSPy keeps an LM's headers in it)."""
    path = Path(path)
    state = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(scrub_state(state), indent=2, ensure_ascii=False), encoding="utf-8")
