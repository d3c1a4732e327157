"""``dspy.Flex`` submodules are optimized as code components, with the same meaning as under ``dspy.GEPA``
(what its own Flex tests exercise): each Flex is one component keyed by its path, holding its source, beside
the other predictors' instructions; a candidate's source is bound when the program is built (a source that
does not bind scores as a failure, an infrastructure error propagates); a metric declaring
``program_trace`` gets the program's trace at scoring time; crashed examples reach the code proposer with
their error; ``code_proposer`` (or the built-in one) writes the new source; ``to_dict`` keeps it.

Flex code runs in ``dspy.LocalInterpreter`` here (a local subprocess; no Deno needed)."""

from __future__ import annotations

import re
import textwrap

import dspy
import pytest
from dspy.teleprompt.gepa.gepa_utils import DspyAdapter as TheirAdapter

from dspy_gepa import DspyAdapter, InfrastructureError
from dspy_gepa.testing import scripted_lm

from ..helpers import WORDS, examples, metric, rule_for
from .common import OPTIMIZERS, both, compile_with


class Color(dspy.Signature):
    """Name the color of the word."""

    word: str = dspy.InputField()
    color: str = dspy.OutputField()


def flex():
    return dspy.Flex(Color, interpreter_factory=dspy.LocalInterpreter)


class WithSibling(dspy.Module):
    def __init__(self):
        super().__init__()
        self.flex = flex()
        self.sibling = dspy.Predict("word -> color")

    def forward(self, word):
        return self.flex(word=word)


def module_source(rules: dict[str, str]) -> str:
    return textwrap.dedent(f'''
        class ColorModule(dspy.Module):
            def __init__(self):
                super().__init__()
                self.predict = dspy.Predict("word -> color")

            def forward(self, **inputs):
                rules = {rules!r}
                if inputs["word"] in rules:
                    return dspy.Prediction(color=rules[inputs["word"]])
                return dspy.Prediction(color=self.predict(**inputs).color)
        ''').strip()


def code_reflection_lm():
    """Writes code that answers every rule named in the feedback, keeping the rules the current source has."""
    def respond(call):
        current = call.field("current_source") or ""
        rules = dict(re.findall(r"'(\w+)': '(\w+)'", current))
        rules.update(re.findall(r"rule '(\w+) => (\w+)'", call.prompt))
        instruction = call.field("current_instruction") or ""
        return {"revised_source": module_source(rules), "new_instruction": instruction + " Be precise."}

    return scripted_lm(respond, "scripted/reflection")


def task():
    return scripted_lm(lambda call: {"color": rule_for(call.system, call.field("word") or "") or "unknown"},
                       "scripted/task")


def flex_run(which, student, **kwargs):
    data = examples()
    return compile_with(which, student, lm=task(), trainset=data[:6], valset=data[:6], max_metric_calls=40,
                        reflection_lm=code_reflection_lm(), track_stats=True, use_merge=False, **kwargs)


@pytest.mark.slow  # Flex code runs in a subprocess per call: a whole compile takes seconds
def test_a_flex_program_is_optimized_as_code():
    for which, program in both(lambda which: flex_run(which, WithSibling())).items():
        r = program.detailed_results
        seed = r.to_dict()["candidates"][0]
        assert set(seed) == {"flex", "sibling"}, which  # one code component; the Flex's predictors are not components
        assert "class ColorModule" in seed["flex"] or "dspy.Module" in seed["flex"], which
        assert max(r.val_aggregate_scores) > r.val_aggregate_scores[0], which
        assert "rules = {" in program.flex.module_src, which
        best = r.to_dict()["candidates"][r.best_idx]
        assert best["flex"] == program.flex.module_src, which


@pytest.mark.slow  # Flex code runs in a subprocess per call: a whole compile takes seconds
def test_a_program_that_is_only_a_flex():
    for which, program in both(lambda which: flex_run(which, flex())).items():
        r = program.detailed_results
        assert set(r.to_dict()["candidates"][0]) == {"self"}, which
        assert max(r.val_aggregate_scores) > r.val_aggregate_scores[0], which


def adapters(student, metric_fn=metric, **kw):
    return {"dspy": TheirAdapter(student_module=student, metric_fn=metric_fn, feedback_map={}, **kw),
            "ours": DspyAdapter(student, metric_fn, **kw)}


def test_a_metric_declaring_program_trace_gets_the_trace_when_scoring():
    seen = []

    def trace_metric(gold, pred, trace=None, pred_name=None, pred_trace=None, program_trace=None):
        seen.append((trace, len(program_trace) if program_trace is not None else None))
        return 1.0

    source = module_source({})  # no rule known: one predictor call per example
    for which, adapter in adapters(flex(), trace_metric).items():
        seen.clear()
        with dspy.context(lm=task()):
            batch = adapter.evaluate(examples()[:1], {"self": source}, capture_traces=False)
        assert list(batch.scores) == [1.0] and seen == [(None, 1)], which


CRASHY = textwrap.dedent('''
    class CrashyModule(dspy.Module):
        def forward(self, **inputs):
            if inputs["word"] == "lime":
                raise RuntimeError("no limes here")
            return dspy.Prediction(color="red")
    ''').strip()


def test_a_crash_scores_in_place_and_reaches_the_code_proposer():
    batch_data = [ex for ex in examples() if ex.word in ("apple", "lime", "cherry")]
    for which, adapter in adapters(flex()).items():
        with dspy.context(lm=task()):
            batch = adapter.evaluate(batch_data, {"self": CRASHY}, capture_traces=True)
        assert list(batch.scores) == [1.0, 0.0, 1.0], which
        records = adapter.make_reflective_dataset({"self": CRASHY}, batch, ["self"])["self"]
        assert len(records) == 3, which
        assert "lime" in str(records[1]["Inputs"]) and "no limes here" in str(records[1]["Generated Outputs"]), which


@pytest.mark.parametrize("source", ["class Broken(dspy.Module)\n    def forward(self): pass", "x = 1"])
def test_a_source_that_does_not_bind_scores_as_a_failure(source):
    for which, adapter in adapters(flex(), failure_score=-1.0).items():
        batch = adapter.evaluate(examples()[:2], {"self": source}, capture_traces=False)
        assert list(batch.scores) == [-1.0, -1.0], which


def test_an_infrastructure_error_while_binding_propagates(monkeypatch):
    class RateLimited(Exception):
        pass

    def refuse(self, source):
        raise RateLimited("429")

    built = adapters(flex())
    monkeypatch.setattr(dspy.Flex, "_bind_code", refuse)
    for adapter in built.values():
        with pytest.raises(RateLimited):
            adapter.evaluate(examples()[:1], {"self": module_source({})})


@pytest.mark.slow  # Flex code runs in a subprocess per call: a whole compile takes seconds
def test_code_components_go_to_the_code_proposer():
    calls = []

    def code_proposer(candidate, reflective_dataset, components_to_update, task_descriptions, context_blurbs):
        calls.append((list(components_to_update), set(task_descriptions), dspy.settings.lm.model))
        return {c: module_source(WORDS) for c in components_to_update}

    for which in OPTIMIZERS:
        calls.clear()
        program = flex_run(which, WithSibling(), code_proposer=code_proposer, component_selector="all")
        assert calls and all(c == (["flex"], {"flex"}, "scripted/reflection") for c in calls), which
        r = program.detailed_results
        assert r.val_aggregate_scores[r.best_idx] == 1.0 and "'apple': 'red'" in program.flex.module_src, which


def test_the_built_in_code_proposer_writes_the_source_with_the_reflection_lm():
    records = {"self": [{"Inputs": {"word": "kiwi"}, "Generated Outputs": {"color": "unknown"},
                         "Feedback": "Wrong. Add the rule 'kiwi => green'."}]}
    for which, adapter in adapters(flex(), reflection_lm=code_reflection_lm()).items():
        out = adapter.propose_new_texts({"self": module_source({})}, records, ["self"])
        assert "'kiwi': 'green'" in out["self"], which


def test_an_lm_outage_while_proposing_code_propagates():
    from dspy.lm15 import RateLimitError

    def down(call):
        raise RateLimitError("429 from the provider")

    records = {"self": [{"Inputs": {"word": "x"}, "Generated Outputs": "wrong", "Feedback": "bad"}]}
    adapter = DspyAdapter(flex(), metric, reflection_lm=scripted_lm(down, "scripted/down"))
    with pytest.raises(InfrastructureError):
        adapter.propose_new_texts({"self": module_source({})}, records, ["self"])


def test_the_trainset_is_required():
    for which in OPTIMIZERS:
        with pytest.raises((AssertionError, ValueError), match="[Tt]rainset"):
            OPTIMIZERS[which](metric=metric, max_metric_calls=10, reflection_lm=code_reflection_lm()).compile(
                flex(), trainset=[])
