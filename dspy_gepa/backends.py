"""Where rollouts run: ``GEPA(..., backend=...)``.

    from dspy_gepa.backends import RayBackend
    GEPA(metric=metric, auto="light", reflection_lm=lm, backend=RayBackend(address="auto"), num_threads=64)

``"threads"`` (the default) and ``"async"`` are given by name; :class:`RayBackend` runs rollouts on a Ray
cluster (``pip install 'dspy-gepa[ray]'``); a :class:`Backend` subclass is a backend of your own. The
backends live in the engine (:mod:`dspy_gepa.engine.backends`), which knows nothing about DSPy; this
module is their public door. docs/scaling.md says what runs where.
"""

from dspy_gepa.engine.backends import AsyncBackend, Backend, Job, RayBackend, ThreadBackend

__all__ = ["AsyncBackend", "Backend", "Job", "RayBackend", "ThreadBackend"]
