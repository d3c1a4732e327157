"""Keeping credentials out of everything dspy-gepa writes, logs or raises.

Provider errors sometimes echo the key they refused, and a program's LMs may carry an API key or an
``Authorization`` header. Text that leaves the process — error messages (and the exceptions they chain
to), journal records, log lines, tracker values, prompts to the reflection LM — goes through
:func:`redact`: values shaped like credentials are masked, and so are the exact values of environment
variables named like secrets (``OPENAI_API_KEY``, ``GEMINI_API_KEY``, ``HF_TOKEN``, ...), which have no
telltale shape. Saved programs go through :func:`scrub_state`, which masks values stored under
secret-looking keys (``api_key``, ``Authorization`` headers) and nothing else, so instructions are
never altered.
"""

from __future__ import annotations

import json
import os
import re
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
    (re.compile(r"(?i)(\w+://)[^/\s:@]+:[^/\s@]+@"), r"\1***@"),
]
#: Environment values shorter than this are not treated as secrets (flags such as TOKENIZERS_PARALLELISM=true).
_MIN_SECRET_LENGTH = 12


def known_secrets(extra: Iterable[Any] = ()) -> list[str]:
    """Values of environment variables named like secrets, plus ``extra`` strings; longest first."""
    values = {v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LENGTH}
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
