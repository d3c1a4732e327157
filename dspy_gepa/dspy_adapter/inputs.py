"""Checks of what ``compile`` is given — the student program and the data — before anything is spent.

Each refusal is a :class:`~dspy_gepa.exceptions.ConfigurationError` that names what is wrong and how to
fix it. The student is never modified: :func:`copy_program` makes the copy GEPA works on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dspy

from dspy_gepa.exceptions import ConfigurationError


def check_examples(data: Any, name: str) -> list[dspy.Example]:
    if data is None:
        raise ConfigurationError(f"{name} must be a non-empty list of dspy.Example.")
    if isinstance(data, dspy.Example):
        raise ConfigurationError(f"{name} must be a list of dspy.Example, not a single {type(data).__name__}; "
                                 f"pass [{name}] if it is your only example.")
    if isinstance(data, str | bytes | Mapping):
        # Iterable, but over characters or keys: list(data) would report a confusing first item.
        raise ConfigurationError(f"{name} must be a list of dspy.Example, not {type(data).__name__}.")
    try:
        examples = list(data)
    except TypeError:
        raise ConfigurationError(f"{name} must be a list of dspy.Example, not {type(data).__name__}.") from None
    if not examples:
        raise ConfigurationError(f"{name} is empty: GEPA needs examples" +
                                 (" to reflect on." if name == "trainset" else " to validate candidates on; pass "
                                  "valset=None to validate on the trainset."))
    for i, ex in enumerate(examples):
        if not isinstance(ex, dspy.Example) or isinstance(ex, dspy.Prediction):
            raise ConfigurationError(f"{name}[{i}] is a {type(ex).__name__}, not a dspy.Example. Build examples "
                                     "with dspy.Example(...).with_inputs(...).")
        if not getattr(ex, "_input_keys", None):
            raise ConfigurationError(f"{name}[{i}] has no input fields marked. Call .with_inputs('field', ...) "
                                     "on every example so GEPA knows what to pass to the program.")
    return examples


def copy_program(student: dspy.Module) -> dspy.Module:
    if not isinstance(student, dspy.Module):
        raise ConfigurationError(f"student must be a dspy.Module, not {type(student).__name__}.")
    advice = ("Keep clients, locks and open files out of the module's attributes (create them in forward, or hold "
              "them at module level).")
    try:
        program = student.deepcopy()
    except Exception as exc:
        raise ConfigurationError(f"GEPA copies the student program to leave it untouched, but "
                                 f"{type(student).__name__} cannot be deep-copied ({type(exc).__name__}: {exc}). "
                                 f"{advice}") from exc
    # dspy's deepcopy falls back to sharing attributes it cannot copy; a shared predictor would let the
    # optimization rewrite the user's own program.
    originals = {id(p) for _, p in student.named_predictors()}
    shared = [name for name, p in program.named_predictors() if id(p) in originals]
    if shared:
        raise ConfigurationError(f"GEPA copies the student program to leave it untouched, but the predictors "
                                 f"{shared} of {type(student).__name__} could not be deep-copied (they sit next to "
                                 f"something uncopyable). {advice}")
    return program


def task_lms(predictors: list[tuple[str, Any]]) -> dict[str, str]:
    """The model each predictor runs on. Part of the journal's fingerprint: scores recorded with one task
    model mean nothing for another, so a resume with a different one is refused."""
    return {name: str(getattr(p.lm or dspy.settings.lm, "model", type(p.lm or dspy.settings.lm).__name__))
            for name, p in predictors}


def check_lms(predictors: list[tuple[str, Any]]) -> None:
    """Every predictor (and ``dspy.Flex`` part, given the same way) has an LM to run on."""
    missing = [name for name, p in predictors if getattr(p, "lm", None) is None and dspy.settings.lm is None]
    if missing:
        raise ConfigurationError(f"No LM for predictors {missing}: configure one with dspy.configure(lm=dspy.LM(...)) "
                                 "or set it on the program with program.set_lm(...).")
