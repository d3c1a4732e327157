"""Planted credentials and the scan that proves they went nowhere (shared by the secrets tests)."""

from __future__ import annotations

import re

PLANTED = ("sk-test-SECRET-reflection-0123456789", "sk-test-SECRET-env-0123456789", "wandb-SECRET-0123456789abcdef")
CREDENTIAL = re.compile(r"(?i)(authorization|bearer)\W{0,3}[A-Za-z0-9._\-]{8,}")


def scan(name: str, data: object, planted: tuple[str, ...] = PLANTED) -> None:
    """Fail if ``data`` (bytes, text or anything printable) holds a planted secret, the word SECRET every
    planted secret contains, or an Authorization/Bearer value."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)
    for secret in planted:
        assert secret not in text and "SECRET" not in text, f"{name} holds a planted secret"
    match = CREDENTIAL.search(text)
    assert match is None, f"{name} holds a credential-looking value: {match and match.group(0)}"
