"""dspy-gepa: GEPA reflective prompt evolution for DSPy, on an engine of its own."""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
