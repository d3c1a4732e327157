"""Bad input: what the metric returns, the data, the program, the log_dir. Each either stops with an error
that names the cause and the fix (asserted on the message users read), or — where the run can go on
safely — goes on and records what happened. Resuming from a journal of another configuration, and a disk
that fills up mid-run, are pinned with the invariants they belong to (``tests/invariants/``)."""

from __future__ import annotations

import decimal
import fractions
import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import dspy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dspy_gepa import (
    GEPA,
    ConfigurationError,
    DspyAdapter,
    JournalError,
    MetricError,
    ProgramError,
    ScoreWithFeedback,
)
from dspy_gepa.dspy_adapter.feedback import read_metric_result
from dspy_gepa.engine.journal import JOURNAL_NAME

from ..helpers import TwoStep, examples, metric, reflection_lm, split, task_lm

ROOT = Path(__file__).resolve().parents[2]


def compile_with(*, student=None, trainset="split", valset="split", metric_fn=metric, log_dir=None, task=None,
                 budget=60, **kw):
    train, val = split()
    with dspy.context(lm=task or task_lm()):
        return GEPA(metric=metric_fn, max_metric_calls=budget, reflection_lm=kw.pop("reflection", None)
                    or reflection_lm(), log_dir=None if log_dir is None else str(log_dir), track_stats=True,
                    **{"num_threads": 2, **kw}).compile(
            student if student is not None else TwoStep(), trainset=train if trainset == "split" else trainset,
            valset=val if valset == "split" else valset)


def returning(value):
    def my_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return value

    return my_metric


# ---------------------------------------------------------------- metric return values


class HasScore:
    def __init__(self, score, feedback=None):
        self.score, self.feedback = score, feedback

    def __repr__(self):
        return f"HasScore({self.score!r})"


def as_number(value):
    """The oracle: the float a score value stands for, or None if it is not a usable score."""
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | fractions.Fraction | decimal.Decimal | np.integer | np.floating):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return None
        return number if math.isfinite(number) else None
    return None


def oracle(value):
    """(score, feedback) the metric result stands for, or None if it is unusable."""
    if isinstance(value, dict | dspy.Example):
        if "score" not in value:
            return None
        score, feedback = as_number(value["score"]), value.get("feedback")
    elif isinstance(value, HasScore):
        score, feedback = as_number(value.score), value.feedback
    else:
        score, feedback = as_number(value), None
    if score is None:
        return None
    return score, None if feedback is None else str(feedback)


numbers_ = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6), st.booleans(),
    st.fractions(max_denominator=100), st.decimals(allow_nan=True, allow_infinity=True, places=3),
    st.floats(width=32).map(np.float32), st.integers(-100, 100).map(np.int64), st.booleans().map(np.bool_),
)
not_numbers = st.one_of(st.none(), st.text(max_size=20), st.lists(st.floats(), max_size=2),
                        st.tuples(st.floats(), st.text(max_size=5)), st.just(object()), st.just(complex(1, 1)))
feedbacks = st.one_of(st.none(), st.text(max_size=30), st.integers())
metric_results = st.one_of(
    numbers_, not_numbers,
    st.builds(lambda s, f: ScoreWithFeedback(s, f), st.one_of(numbers_, not_numbers), feedbacks),
    st.builds(lambda s, f: dspy.Prediction(score=s, feedback=f), st.one_of(numbers_, not_numbers), feedbacks),
    st.builds(HasScore, st.one_of(numbers_, not_numbers), feedbacks),
    st.fixed_dictionaries({"score": st.one_of(numbers_, not_numbers)}, optional={"feedback": feedbacks}),
    st.dictionaries(st.sampled_from(["feedback", "scores", "Score", "value"]), st.floats(), max_size=3),
)


@settings(max_examples=400, deadline=None)
@given(value=metric_results)
def test_any_metric_result_is_read_as_a_score_or_refused_by_name(value):
    expected = oracle(value)
    my_metric = returning(value)
    if expected is None:
        with pytest.raises(MetricError) as info:
            read_metric_result(value, my_metric, "for example X")
        message = str(info.value)
        assert "Metric test_any_metric_result_is_read_as_a_score_or_refused_by_name.<locals>.returning" not in message
        assert "returning.<locals>.my_metric" in message and "for example X" in message
        assert "Return" in message or "Make it return" in message
    else:
        score, feedback = read_metric_result(value, my_metric, "for example X")
        assert type(score) is float and math.isfinite(score) and score == expected[0]
        assert feedback == expected[1]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=metric_results)
def test_adapter_scores_or_stops_on_any_metric_result(value):
    """The same through DspyAdapter.evaluate with a real (scripted) LM call per example."""
    adapter = DspyAdapter(dspy.Predict("word -> color"), returning(value), reflection_lm=reflection_lm())
    with dspy.context(lm=task_lm()):
        if oracle(value) is None:
            with pytest.raises(MetricError, match=r"my_metric .*for example Example"):
                adapter.evaluate(examples()[:2], {"self": "apple => red"})
        else:
            assert adapter.evaluate(examples()[:2], {"self": "apple => red"}).scores == [oracle(value)[0]] * 2


FIXES = {"None": "expected a score. Return a float (0.0 for a failure) or ScoreWithFeedback(score=..., feedback=...).",
         "str": "expected a score. Return a float (0.0 for a failure) or ScoreWithFeedback(score=..., feedback=...).",
         "tuple": "expected a score. Return ScoreWithFeedback(score=..., feedback=...) instead of a tuple.",
         "float": "scores must be finite numbers. Make it return a float such as 0.0 for a failure.",
         "dict": "which has no 'score'. Return ScoreWithFeedback(score=..., feedback=...) or a float."}


@pytest.mark.parametrize("value,message", [
    (None, "returned None (type NoneType) for example Example({'word': "),
    ("0.9", "returned '0.9' (type str)"),
    (math.nan, "returned the score nan for example Example"),
    (-math.inf, "returned the score -inf for example"),
    ({"feedback": "good"}, "returned {'feedback': 'good'} for example Example({'word': "),
    ((1.0, "good"), "returned (1.0, 'good') (type tuple)"),
])
def test_unusable_metric_results_stop_the_run_before_the_seed_is_validated(value, message):
    with pytest.raises(MetricError) as info:
        compile_with(metric_fn=returning(value))
    # Which example fails first depends on thread timing; the rest of the message does not.
    assert "Metric returning.<locals>.my_metric " in str(info.value) and message in str(info.value)
    assert str(info.value).endswith(FIXES[type(value).__name__ if value is not None else "None"])


def test_metric_that_raises_is_named_with_the_example():
    def strict(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return float(pred.colour == gold.color)

    with pytest.raises(MetricError, match=r"^Metric test_metric_that_raises_is_named_with_the_example.<locals>.strict "
                       r"raised AttributeError: .*colour.* for example Example\(.*\)\. Fix the metric"):
        compile_with(metric_fn=strict)


def test_metric_that_fails_only_when_asked_for_feedback_is_named_with_the_predictor():
    def picky(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return None if pred_name else metric(gold, pred)

    with pytest.raises(MetricError, match=r"picky returned None \(type NoneType\) for example Example\(\{'word': "
                                          r".*\}\) \(input_keys=\{'word'\}\) with pred_name='(first|second)'; "
                                          r"expected a score\. Return a float"):
        compile_with(metric_fn=picky)


@pytest.mark.parametrize("value", [np.bool_(True), np.float32(0.25), decimal.Decimal("0.25"), np.array(0.25),
                                   fractions.Fraction(1, 4)], ids=repr)
def test_numeric_scores_of_other_types_are_accepted(value):
    adapter = DspyAdapter(dspy.Predict("word -> color"), returning(ScoreWithFeedback(value, "fine")),
                          reflection_lm=reflection_lm())
    with dspy.context(lm=task_lm()):
        batch = adapter.evaluate(examples()[:1], {"self": "x"})
    assert batch.scores == [float(value)] and batch.feedbacks == ["fine"]


@pytest.mark.parametrize("value,shown", [
    (10**400, "returned the score 1000000000000000000000000000000"),
    (-(10**400), "returned the score -1000000000000000000000000000000"),
    (fractions.Fraction(10**400, 3), "returned the score Fraction(1000000000000000000"),
    (10**5000, "returned the score <an int of 16610 bits>"),
], ids=["int", "negative-int", "fraction", "int-too-long-to-print"])
def test_numbers_too_large_for_a_float_are_refused_naming_the_value(value, shown):
    with pytest.raises(MetricError) as info:
        read_metric_result(ScoreWithFeedback(value, "fine"), returning(value), "for example X")
    message = str(info.value)
    assert shown in message and "for example X; scores must be finite numbers." in message and len(message) < 500


def test_a_huge_score_given_only_with_feedback_is_a_metric_error_not_a_reflection_failure():
    """The metric's score is fine at rollout time and overflows when it is asked for feedback (pred_name set): a
    bad metric, whose error names it, rather than five "unusable reflections" blaming the reflection LM."""
    def huge_with_feedback(gold, pred, trace=None, pred_name=None, pred_trace=None):
        return ScoreWithFeedback(10**400 if pred_name else float(pred.color == gold.color), "fine")

    with pytest.raises(MetricError, match=r"huge_with_feedback returned the score 10000.* with pred_name='(first|"
                                          r"second)'; scores must be finite numbers"):
        compile_with(metric_fn=huge_with_feedback)


# ---------------------------------------------------------------- data shapes


def item_strategy():
    good = st.sampled_from(examples()).map(lambda ex: ex)
    return st.one_of(
        good, good, good,
        st.sampled_from(examples()).map(lambda ex: dspy.Example(**dict(ex.items()))),  # no inputs marked
        st.builds(dict, word=st.text(max_size=5)), st.text(max_size=5), st.none(), st.integers(),
        st.just(dspy.Prediction(word="apple", color="red")),
    )


def first_problem(data, name):
    """The message fragment the first bad item should produce, or None if the list is usable."""
    if not data:
        return f"{name} is empty"
    for i, item in enumerate(data):
        if not isinstance(item, dspy.Example) or isinstance(item, dspy.Prediction):
            return f"{name}[{i}] is a {type(item).__name__}, not a dspy.Example. Build examples with " \
                   "dspy.Example(...).with_inputs(...)."
        if not item._input_keys:
            return f"{name}[{i}] has no input fields marked. Call .with_inputs('field', ...) on every example"
    return None


@settings(max_examples=150, deadline=None)
@given(train=st.lists(item_strategy(), max_size=6), val=st.one_of(st.none(), st.lists(item_strategy(), max_size=6)))
def test_any_data_shape_is_accepted_or_refused_before_anything_is_spent(train, val):
    gepa = GEPA(metric=metric, max_metric_calls=500, reflection_lm=reflection_lm(), preflight=False)
    problem = first_problem(train, "trainset") or (first_problem(val, "valset") if val is not None else None)
    lm = task_lm()
    with dspy.context(lm=lm):
        if problem is None:
            assert gepa.plan(TwoStep(), train, val).seed_validation == len(val if val is not None else train)
        else:
            with pytest.raises(ConfigurationError) as info:
                gepa.compile(TwoStep(), trainset=train, valset=val)
            assert problem in str(info.value)
    assert lm.engine.calls == []


@pytest.mark.parametrize("data,message", [
    (None, "trainset must be a non-empty list of dspy.Example."),
    (examples()[0], "trainset must be a list of dspy.Example, not a single Example; pass [trainset] if it is your "
                    "only example."),
    ("apple", "trainset must be a list of dspy.Example, not str."),
    ({"word": "apple"}, "trainset must be a list of dspy.Example, not dict."),
    (42, "trainset must be a list of dspy.Example, not int."),
])
def test_a_trainset_that_is_not_a_list_is_named(data, message):
    with pytest.raises(ConfigurationError) as info:
        compile_with(trainset=data)
    assert message in str(info.value)


def test_empty_valset_is_refused_with_the_alternative():
    with pytest.raises(ConfigurationError, match=r"valset is empty: .*pass valset=None to validate on the trainset"):
        compile_with(valset=[])


def test_examples_whose_inputs_the_program_does_not_take():
    data = [dspy.Example(question=w, color="red").with_inputs("question") for w in ("a", "b", "c", "d")]
    with pytest.raises(ProgramError) as info:
        compile_with(trainset=data, valset=data)
    message = str(info.value)
    assert "failed on all 4 validation examples" in message and "unexpected keyword argument 'question'" in message
    assert "the examples' input fields" in message


FINGERPRINTS = """
import json
import dspy
from dspy_gepa.dspy_adapter.codec import example_fingerprint
from dspy_gepa.engine.adapter import JsonCodec

class Tagged:  # an object holding a set, pickled by the codec
    def __init__(self):
        self.tags = {f"tag{i}" for i in range(20)}

words = {f"w{i}" for i in range(20)}
examples = [
    dspy.Example(question="q", labels=words).with_inputs("question"),
    dspy.Example(question="q", labels=frozenset(words), nested=[{"k": words}], by_id={1: words},
                 pair=("t", words), obj=Tagged()).with_inputs("question"),
]
print(json.dumps([example_fingerprint(ex) for ex in examples]
                 + [JsonCodec().example_fingerprint({"labels": words}), JsonCodec().example_fingerprint({1: words, "a": 2})]))
"""


def test_examples_holding_sets_fingerprint_the_same_in_every_process():
    """A set's order follows the process's hash seed; the data fingerprint a resumed run must match does not."""
    procs = [subprocess.Popen([sys.executable, "-c", FINGERPRINTS], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
             for seed in ("1", "2", "3")]
    outputs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert outputs[0] == outputs[1] == outputs[2]


# ---------------------------------------------------------------- programs


def test_program_without_predictors():
    class NoPredictors(dspy.Module):
        def forward(self, word):
            return dspy.Prediction(color="red")

    with pytest.raises(ConfigurationError, match=r"NoPredictors has no dspy.Predict modules \(nor dspy.Flex parts\), "
                                                 "so GEPA has nothing to optimize"):
        compile_with(student=NoPredictors())


def test_student_that_is_not_a_module():
    with pytest.raises(ConfigurationError, match="student must be a dspy.Module, not function"):
        compile_with(student=lambda word: word)


def test_student_whose_predictors_cannot_be_deep_copied():
    class Pooled(dspy.Module):
        def __init__(self):
            super().__init__()
            self.steps = [dspy.Predict("word -> color"), threading.Lock()]  # a list that cannot be deep-copied

        def forward(self, word):
            return self.steps[0](word=word)

    student = Pooled()
    with pytest.raises(ConfigurationError) as info:
        compile_with(student=student)
    assert "the predictors ['steps[0]'] of Pooled could not be deep-copied" in str(info.value)
    assert "Keep clients, locks and open files out of the module's attributes" in str(info.value)


def test_student_that_cannot_be_copied_at_all():
    class Stubborn(dspy.Module):
        def __new__(cls, config):  # Module.deepcopy falls back to cls.__new__(cls), which needs config
            return super().__new__(cls)

        def __init__(self, config):
            super().__init__()
            self.config = config
            self.lock = threading.Lock()
            self.p = dspy.Predict("word -> color")

        def forward(self, word):
            return self.p(word=word)

    with pytest.raises(ConfigurationError, match=r"GEPA copies the student program to leave it untouched, but "
                                                 r"Stubborn cannot be deep-copied \(TypeError: .*\)"):
        compile_with(student=Stubborn({"k": 1}))


def test_two_predictors_with_identical_signatures_are_optimized_separately():
    """Not an error: TwoStep's predictors share a signature; each gets its own reflective data and text."""
    result = compile_with(budget=140).detailed_results
    texts = result.candidate_texts
    assert any(c["first"] != texts[0]["first"] for c in texts) and any(c["second"] != texts[0]["second"]
                                                                        for c in texts)
    assert all(c["first"] == p["first"] or c["second"] == p["second"]
               for c, parents in zip(texts[1:], result.parents[1:], strict=True) if len(parents) == 1
               for p in [texts[parents[0]]])


def test_one_predictor_under_two_names_is_one_component():
    class Shared(dspy.Module):
        def __init__(self):
            super().__init__()
            self.a = self.b = dspy.Predict("word -> color")

        def forward(self, word):
            self.a(word=word)
            return self.b(word=word)

    result = compile_with(student=Shared(), budget=80).detailed_results
    assert list(result.candidate_texts[0]) == ["a"]
    assert len(result.candidates) > 1


# ---------------------------------------------------------------- log_dir


@pytest.fixture(scope="module")
def finished_log(tmp_path_factory):
    log = tmp_path_factory.mktemp("finished") / "run"
    compile_with(log_dir=log, budget=60)
    return log


def copy_log(src, dst):
    dst.mkdir()
    (dst / JOURNAL_NAME).write_bytes((src / JOURNAL_NAME).read_bytes())
    return dst


@pytest.mark.parametrize("content,message", [
    (b'[1, 2, 3]\n', "does not start with a journal header (line 1: TypeError"),
    (b'hello\nworld\n', "line 1 is corrupt"),
    (b'{"type": "rollout", "key": ["abc", "train", 0], "score": 1.0}\n',
     "does not start with a journal header (line 1: ValueError: no header before it)"),
    (b'{"type": "header", "version": 1, "fingerprint": {}}\n{"type": "rollout", "seq": 3}\n',
     "line 2 is not a journal record (KeyError: 'key')"),
    (b'{"type": "header", "version": 1, "fingerprint": {}}\n{"type": "header", "version": 1}\n',
     "line 2 is not a journal record (ValueError: a second header)"),
], ids=["json-list", "text", "no-header", "rollout-without-key", "two-headers"])
def test_a_log_dir_holding_something_else_is_refused(tmp_path, content, message):
    (tmp_path / JOURNAL_NAME).write_bytes(content)
    with pytest.raises(JournalError) as info:
        compile_with(log_dir=tmp_path)
    assert message in str(info.value) and str(tmp_path / JOURNAL_NAME) in str(info.value)
    assert "use a new log_dir" in str(info.value)


def test_a_journal_from_a_newer_format_is_refused(finished_log, tmp_path):
    log = copy_log(finished_log, tmp_path / "log")
    lines = (log / JOURNAL_NAME).read_text().splitlines()
    header = json.loads(lines[0])
    header["version"] = 99
    (log / JOURNAL_NAME).write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    with pytest.raises(JournalError, match=r"written in journal format 99; this dspy-gepa reads format 1\. Upgrade "
                                           r"dspy-gepa or use a new log_dir"):
        compile_with(log_dir=log)


def test_a_journal_from_a_newer_format_with_new_record_shapes_gets_the_upgrade_message(tmp_path):
    """The version is read from the header before any other record: a newer format's records need not parse."""
    records = [{"type": "header", "version": 2, "fingerprint": {}}, {"type": "rollout", "ref": "blob-17"},
               {"type": "blob", "id": 17, "data": "..."}]
    (tmp_path / JOURNAL_NAME).write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(JournalError, match=r"written in journal format 2; this dspy-gepa reads format 1\. Upgrade "
                                           r"dspy-gepa or use a new log_dir"):
        compile_with(log_dir=tmp_path)


def test_corrupt_middle_line_is_refused_not_skipped(finished_log, tmp_path):
    log = copy_log(finished_log, tmp_path / "log")
    lines = (log / JOURNAL_NAME).read_text().splitlines()
    lines[5] = lines[5][:20]
    (log / JOURNAL_NAME).write_text("\n".join(lines) + "\n")
    with pytest.raises(JournalError, match=r"line 6 is corrupt .*; the journal cannot be replayed"):
        compile_with(log_dir=log)


@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_unwritable_log_dir_fails_before_any_lm_call(tmp_path, where):
    (tmp_path / "f").write_text("not a directory")
    log = tmp_path / "f" if where == "file" else tmp_path / "f" / "run"
    lm = task_lm()
    with pytest.raises(JournalError, match=rf"Cannot write the journal in log_dir='{log}': \[Errno \d+\] .*\. "
                                           r"Pick a writable directory\."):
        compile_with(log_dir=log, task=lm)
    assert lm.engine.calls == []


def test_unwritable_best_program_only_warns(tmp_path, caplog):
    (tmp_path / "best_program.json").mkdir()
    result = compile_with(log_dir=tmp_path, budget=80).detailed_results
    assert len(result.candidates) > 1
    assert "_BestProgramSaver" in caplog.text and "Is a directory" in caplog.text
