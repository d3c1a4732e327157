"""Benchmarks for dspy-gepa (not part of the installed package), in two suites that share no code.

``paper/``: the GEPA paper's four tasks (programs, metrics, feedback, data, BM25 retrieval) and ``python -m
benchmarks.run``, for real models. ``scripted/``: side-by-side comparisons of ``dspy_gepa.GEPA`` and ``dspy.GEPA``
on scripted worlds with deterministic fake LMs, ``python -m benchmarks.compare``. The two modules at this level are
only those commands' entry points.
"""
