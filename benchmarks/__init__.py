"""Benchmarks and paper tasks for dspy-gepa (not part of the installed package)."""
