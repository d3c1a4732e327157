"""The offline demo (``dspy-gepa demo``): an entry point above the core, like ``dspy_gepa.cli``.

``run`` optimizes the built-in ``task`` with :class:`dspy_gepa.GEPA`; ``cli`` is its command line. Without a provider
model it serves SmolLM2-135M locally (``local_lm``, which starts ``_llama_server`` as a child process) and talks to it
through ``compact_adapter``. Nothing in the core imports this package.
"""

from dspy_gepa.demo.cli import build_parser, main_demo
from dspy_gepa.demo.compact_adapter import CompactJSONAdapter
from dspy_gepa.demo.local_lm import LocalLMServer
from dspy_gepa.demo.run import DEFAULT_BUDGET, DemoResult, run_demo

__all__ = [
    "DEFAULT_BUDGET",
    "CompactJSONAdapter",
    "DemoResult",
    "LocalLMServer",
    "build_parser",
    "main_demo",
    "run_demo",
]
