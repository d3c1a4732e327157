"""Invariant 4 (DESIGN.md), loud failures: an infrastructure error or a metric that returns something unusable
stops the run with an error naming the cause; a reflection reply that cannot be used is never adopted, and
too many in a row stop the run instead of returning the seed as if it were optimized.

These are the DSPy-level pins (``GEPA.compile`` with scripted LMs). The exhaustive matrices live beside them:
every LM role with every provider error in ``tests/faults/test_lm_faults.py``, every metric return value and
data shape in ``tests/faults/test_bad_input.py``; a program's own exception scoring ``failure_score`` is
``tests/dspy_adapter/test_adapter.py``'s; the engine's handling of a proposer error is
``tests/engine/test_reflection.py``'s and the failure streak ``tests/engine/test_commit.py``'s.
"""

import dspy
import pytest

from dspy_gepa import InfrastructureError, ProgramError, ReflectionError
from dspy_gepa.testing import ScriptedReply, scripted_lm

from .dspy_run import optimize


def test_reflection_lm_that_always_raises_makes_compile_raise():
    def broken(call):
        raise RuntimeError("reflection service returned HTTP 500 garbage")

    refl = scripted_lm(broken, "scripted/reflector")
    with pytest.raises(InfrastructureError, match="HTTP 500 garbage") as info:
        optimize(reflection=refl)
    assert info.value.lm == "scripted/reflector" and len(refl.engine.calls) == 1


def test_proposer_that_always_fails_stops_after_five_in_a_row():
    """A user's ``instruction_proposer`` raising: each reason reaches the error the run stops with."""
    def proposer(candidate, reflective_dataset, components_to_update):
        raise RuntimeError("template bug")

    with pytest.raises(ReflectionError, match="5 proposals in a row") as info:
        optimize(instruction_proposer=proposer)
    assert str(info.value).count("template bug") == 5


def test_truncated_reflections_are_never_adopted():
    refl = scripted_lm(lambda call: ScriptedReply("[[ ## new_instruction ## ]]\napple => red\nbanana =>",
                                                  finish_reason="length"))
    with pytest.raises(ReflectionError, match="cut off"):
        optimize(reflection=refl)


def test_program_failing_everywhere_is_reported():
    class Broken(dspy.Module):
        def __init__(self):
            super().__init__()
            self.p = dspy.Predict("word -> color")

        def forward(self, word):
            raise KeyError("missing retriever index")

    with pytest.raises(ProgramError, match="missing retriever index"):
        optimize(program=Broken())
