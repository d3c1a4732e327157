"""Reflection dispatch and reply checks (``engine/reflection.py``): a reply that cannot be used is never adopted,
a proposer error is counted, and errors of dspy-gepa's own kinds stop the run."""

import pytest

from dspy_gepa.engine.reflection import check_texts
from dspy_gepa.exceptions import InfrastructureError, ReflectionError, UnusableProposalError

from .fakes import FakeAdapter, run


@pytest.mark.parametrize("texts,components,error", [
    ("new text", ["a"], "the proposer returned str, expected a dict of texts"),
    (None, ["a"], "the proposer returned NoneType, expected a dict of texts"),
    ({"a": "x", "z": "y"}, ["a"], "the proposer returned texts for components it was not asked for: ['z']"),
    ({"a": "  \n"}, ["a"], "the proposer returned empty or non-text instructions for ['a']"),
    ({"a": 3, "b": "ok"}, ["a", "b"], "the proposer returned empty or non-text instructions for ['a']"),
    ({}, ["a", "b"], "the proposer returned no text for ['a', 'b']"),
])
def test_unusable_replies_are_reasons_not_texts(texts, components, error):
    result = check_texts(texts, components)
    assert result.new_texts is None and result.error == error


def test_usable_replies_are_stripped_and_may_cover_some_components():
    result = check_texts({"b": "  Better.\n"}, ["a", "b"])
    assert result.new_texts == {"b": "Better."} and result.error is None


def test_reflection_that_always_raises_stops_the_run():
    with pytest.raises(ReflectionError, match="5 proposals in a row"):
        run(adapter=FakeAdapter(reflect_error=RuntimeError("LM down")))


def test_an_unusable_proposal_is_counted_without_a_warning(caplog):
    adapter = FakeAdapter(reflect_error=UnusableProposalError("the reply was cut off"))
    with pytest.raises(ReflectionError) as info:
        run(adapter=adapter, max_consecutive_failures=2)
    assert str(info.value).count("reflection_failed: the reply was cut off") == 2
    assert "Reflection failed" not in caplog.text


def test_errors_of_our_own_kinds_stop_the_run_at_once():
    adapter = FakeAdapter(reflect_error=InfrastructureError("the reflection LM is down", lm="scripted/reflection"))
    with pytest.raises(InfrastructureError, match="the reflection LM is down"):
        run(adapter=adapter)
    assert adapter.reflections == 1


def test_a_reply_that_is_not_a_dict_is_never_adopted():
    class Chatty(FakeAdapter):
        """Every other reply is prose instead of texts."""

        def propose_new_texts(self, candidate, reflective_dataset, components_to_update):
            texts = super().propose_new_texts(candidate, reflective_dataset, components_to_update)
            return "Here is a better instruction: solve it." if self.reflections % 2 else texts

    result, adapter, _ = run(Chatty(), budget=120)
    texts = [t for c in result.state.candidates for t in c.values()]
    assert len(texts) > 1 and not any("Here is" in t for t in texts)
    statuses = [p["status"] for p in result.proposals if p["kind"] == "reflective"]
    assert statuses.count("reflection_failed") == (adapter.reflections + 1) // 2
