"""Child-process entry point for :class:`dspy_gepa.demo.local_lm.LocalLMServer`.

Runs llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) with one addition:
a watchdog thread that ends the process as soon as its parent is gone, so a server is never left
behind when the parent is killed with a signal it cannot handle (SIGKILL, or a SIGTERM that arrives
before any handler is installed).

Invoked as a script (``python _llama_server.py PARENT_PID [llama_cpp.server args...]``) so that it
depends only on the standard library and llama-cpp-python, never on how ``dspy_gepa`` is installed.
"""

from __future__ import annotations

import os
import sys
import threading
import time

WATCH_INTERVAL_S = 0.5


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            # The parent died and this process was re-parented: nobody will stop us, so stop now.
            os._exit(0)
        time.sleep(WATCH_INTERVAL_S)


def main(argv: list[str]) -> None:
    if not argv or not argv[0].isdigit():
        sys.exit("usage: _llama_server.py PARENT_PID [llama_cpp.server arguments...]")
    parent_pid, server_args = int(argv[0]), argv[1:]
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()

    from llama_cpp.server.__main__ import main as server_main

    sys.argv = ["llama_cpp.server", *server_args]
    server_main()


if __name__ == "__main__":
    main(sys.argv[1:])
