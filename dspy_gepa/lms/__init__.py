"""The LMs of a run, as dspy-gepa sees them: recording each call's tokens and dollars (``recording``),
telling provider failures from program failures (``errors``), and checking every LM before anything is
spent (``preflight``)."""

from dspy_gepa.lms.errors import raise_if_infrastructure
from dspy_gepa.lms.preflight import lms_to_check, run_preflight
from dspy_gepa.lms.recording import CallRecorder, Prices, record_lm_calls, watch_lms

__all__ = ["CallRecorder", "Prices", "lms_to_check", "raise_if_infrastructure", "record_lm_calls", "run_preflight",
           "watch_lms"]
