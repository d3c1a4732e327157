"""``dspy-gepa serve LOG_DIR``: a local web page that follows a run from its journal while it goes.

A small ASGI app (Starlette, served by uvicorn) with four routes:

* ``/``: the dashboard page (``static/dashboard.html``, its script and styles, and uPlot for the
  charts: all shipped inside the package, nothing is loaded from the network);
* ``/api/run``: the run as JSON (:func:`~dspy_gepa.tracking.live.payload.run_payload`);
* ``/api/events``: the same JSON as server-sent events, sent whenever the journal has grown, so the
  page updates without a reload (the browser's ``EventSource`` reconnects by itself);
* ``/report.css``: the HTML report's styles, which the lineage tree and diffs use here too.

The journal is only read (:class:`~dspy_gepa.tracking.live.follower.JournalFollower`), so the run can be
in another process, finished, or not started yet. The server listens on 127.0.0.1 unless told otherwise:
the page shows the run's instructions and the metric's feedback, which may be private.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from dspy_gepa.exceptions import DashboardError
from dspy_gepa.tracking.live.follower import JournalFollower
from dspy_gepa.tracking.live.payload import run_payload
from dspy_gepa.tracking.report.html import CSS as REPORT_CSS

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "INSTALL_COMMAND", "LiveRun", "LiveServer", "build_app", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
INSTALL_COMMAND = 'pip install "dspy-gepa[serve]"'
STATIC = Path(__file__).with_name("static")
#: Seconds between two looks at the journal.
POLL_INTERVAL = 0.5
#: Seconds after which an idle event stream sends a comment, so proxies and browsers keep it open.
KEEPALIVE = 15.0


class LiveRun:
    """The followed run and its JSON, computed once per journal version (thread-safe).

    Every client asks :meth:`current`; the journal is read at most once per ``poll_interval`` however
    many pages are open.
    """

    def __init__(self, log_dir: str | os.PathLike[str], *, poll_interval: float = POLL_INTERVAL):
        self.follower = JournalFollower(log_dir)
        self.poll_interval = poll_interval
        self._lock = threading.Lock()
        self._polled_at = -float("inf")
        self._version = -1
        self._text = ""

    def current(self) -> tuple[int, str]:
        """``(version, JSON text)`` of the run as the journal has it now."""
        with self._lock:
            now = time.monotonic()
            if now - self._polled_at >= self.poll_interval:
                self._polled_at = now
                self.follower.poll()
            if self.follower.version != self._version:
                payload = run_payload(self.follower.view(), version=self.follower.version)
                payload["journal"] = self.follower.exists
                self._version, self._text = self.follower.version, json.dumps(payload, ensure_ascii=False)
            return self._version, self._text


def _missing_extra(exc: ImportError) -> DashboardError:
    return DashboardError(f"the live dashboard needs Starlette and uvicorn, which are not installed ({exc}). "
                          f"Install them with: {INSTALL_COMMAND}")


def build_app(live: LiveRun, *, stopping: threading.Event | None = None) -> Any:
    """The Starlette application serving ``live``; ``stopping`` ends open event streams when set."""
    try:
        from starlette.applications import Starlette
        from starlette.responses import FileResponse, Response, StreamingResponse
        from starlette.routing import Mount, Route
        from starlette.staticfiles import StaticFiles
    except ImportError as exc:
        raise _missing_extra(exc) from exc
    stopping = stopping or threading.Event()

    async def current() -> tuple[int, str]:
        return await asyncio.to_thread(live.current)

    async def page(request: Any) -> Any:
        return FileResponse(STATIC / "dashboard.html", headers={"Cache-Control": "no-cache"})

    async def report_css(request: Any) -> Any:
        return Response(REPORT_CSS, media_type="text/css")

    async def run_json(request: Any) -> Any:
        _, text = await current()
        return Response(text, media_type="application/json", headers={"Cache-Control": "no-store"})

    async def events(request: Any) -> Any:
        async def stream() -> AsyncIterator[str]:
            sent, quiet_since = None, time.monotonic()
            yield f"retry: {int(live.poll_interval * 2000)}\n\n"
            while not stopping.is_set():
                version, text = await current()
                if version != sent:
                    sent, quiet_since = version, time.monotonic()
                    yield f"event: run\nid: {version}\ndata: {text}\n\n"
                elif time.monotonic() - quiet_since > KEEPALIVE:
                    quiet_since = time.monotonic()
                    yield ": keep-alive\n\n"
                if await request.is_disconnected():
                    return
                await asyncio.sleep(live.poll_interval)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return Starlette(routes=[
        Route("/", page),
        Route("/report.css", report_css),
        Route("/api/run", run_json),
        Route("/api/events", events),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ])


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise DashboardError(f"port {port} on {host} is already in use; pick another with --port "
                                     "(--port 0 picks a free one)") from exc
            raise DashboardError(f"cannot listen on {host}:{port}: {exc}") from exc


class LiveServer:
    """The dashboard for ``log_dir`` served in a background thread, as a context manager (tests, notebooks).

    ``port=0`` picks a free port; :attr:`url` is the page's address once started.
    """

    def __init__(self, log_dir: str | os.PathLike[str], *, host: str = DEFAULT_HOST, port: int = 0,
                 poll_interval: float = POLL_INTERVAL):
        try:
            import uvicorn
        except ImportError as exc:
            raise _missing_extra(exc) from exc
        if port:
            _check_port(host, port)
        self.live = LiveRun(log_dir, poll_interval=poll_interval)
        self._stopping = threading.Event()
        self.app = build_app(self.live, stopping=self._stopping)
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.host = host
        self.port = port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self, timeout: float = 30.0) -> LiveServer:
        self._thread = threading.Thread(target=self.server.run, name="dspy-gepa-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise DashboardError(f"the dashboard server did not start on {self.host}:{self.port}")
            time.sleep(0.05)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def _quiet_keyboard_interrupt() -> Iterator[None]:
    with contextlib.suppress(KeyboardInterrupt):
        yield


def serve(log_dir: str | os.PathLike[str], *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          poll_interval: float = POLL_INTERVAL, on_ready: Any = None) -> None:
    """Serve the dashboard for ``log_dir`` until Ctrl-C (or SIGTERM). ``on_ready(url)`` is called once
    the server listens (the CLI prints the address)."""
    server = LiveServer(log_dir, host=host, port=port, poll_interval=poll_interval)
    if host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("Serving on %s: anyone who can reach this address sees the run's instructions and feedback.",
                       host)
    server.start()
    if on_ready is not None:
        on_ready(server.url)
    with _quiet_keyboard_interrupt():
        try:
            while server._thread is not None and server._thread.is_alive():
                server._thread.join(0.5)
        finally:
            server.stop()
