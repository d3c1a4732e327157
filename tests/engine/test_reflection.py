"""Reflection dispatch and reply checks (``engine/reflection.py``)."""

import pytest

from dspy_gepa.exceptions import ReflectionError

from .fakes import FakeAdapter, run


def test_reflection_that_always_raises_stops_the_run():
    with pytest.raises(ReflectionError, match="5 proposals in a row"):
        run(adapter=FakeAdapter(reflect_error=RuntimeError("LM down")))
