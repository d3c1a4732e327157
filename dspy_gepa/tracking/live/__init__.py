"""The live dashboard (``dspy-gepa serve LOG_DIR``): a local web page that follows a run from its journal.

``follower`` reads the journal incrementally into the report's :class:`~dspy_gepa.tracking.report.RunView`;
``payload`` turns it into the page's JSON (the report's own sections plus chart data, budget left and
proposals in flight); ``server`` serves the page and pushes updates as server-sent events. The page and
its chart library (uPlot, MIT license, in ``static/``) ship inside the package: it works offline.
Starlette and uvicorn come with the ``serve`` extra: ``pip install "dspy-gepa[serve]"``.
"""

from dspy_gepa.tracking.live.follower import JournalFollower, follow
from dspy_gepa.tracking.live.payload import run_payload
from dspy_gepa.tracking.live.server import DEFAULT_HOST, DEFAULT_PORT, LiveRun, LiveServer, build_app, serve

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "JournalFollower",
    "LiveRun",
    "LiveServer",
    "build_app",
    "follow",
    "run_payload",
    "serve",
]
