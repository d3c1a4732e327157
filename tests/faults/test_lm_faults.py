"""Faults of the three LMs a run uses — the task LM (the program's), the judge LM (inside the metric) and the
reflection LM — injected through scripted engines, i.e. through DSPy's real LM call path.

What DSPy 3.4 does before we see an error (checked by the first tests, since the rest builds on it): a
custom engine's ``dspy.lm15`` error is projected to ``dspy.utils.exceptions.LM*Error``; rate limits,
timeouts, server and transport errors are retried ``num_retries`` times (``dspy.LM(num_retries=...)``,
custom engines included), sleeping the error's ``retry_after`` or 1, 2, 4, ... seconds; authentication,
billing and not-found errors are not retried. So transient faults never reach GEPA, and whatever does
reach it is final: the run stops with :class:`InfrastructureError` naming the LM, and resumes later.
"""

from __future__ import annotations

import json
import re
import threading
import time
import zlib
from types import SimpleNamespace

import dspy
import dspy.lm15
import pytest
from dspy.utils.exceptions import LMRateLimitError
from hypothesis import given, settings
from hypothesis import strategies as st

from dspy_gepa import GEPA, InfrastructureError, ReflectionError
from dspy_gepa.engine.journal import JOURNAL_NAME
from dspy_gepa.testing import ScriptedReply, chat_fields, scripted_lm

from ..helpers import WORDS, TwoStep, examples, metric, rule_for, split

BUDGET = 100


def task_respond(call):
    return {"color": rule_for(call.system, call.field("word")) or "unknown"}


def reflection_respond(call):
    current = call.field("current_instruction") or ""
    rules = [r for r in dict.fromkeys(re.findall(r"rule '(\w+ => \w+)'", call.prompt)) if r not in current]
    return {"new_instruction": current + "".join(f"\n{r}" for r in rules)}


def judge_respond(call):
    return {"verdict": "plausible"}


class Faulty:
    """A scripted ``respond`` that raises ``error()`` on the calls ``fail`` selects: ``fail(i, attempt, call)``
    sees the call's index ``i`` (from 0, across threads) and ``attempt``, how often this same prompt was sent
    before (so a pattern over attempts does not depend on how threads interleave)."""

    def __init__(self, respond, fail, error):
        self.respond, self.fail, self.error = respond, fail, error
        self.calls = 0
        self.failures = 0
        self.attempts: dict[str, int] = {}
        self.failed: dict[str, int] = {}  # failures per prompt
        self._lock = threading.Lock()

    def __call__(self, call):
        with self._lock:
            i = self.calls
            self.calls += 1
            attempt = self.attempts.get(call.prompt, 0)
            self.attempts[call.prompt] = attempt + 1
            failing = bool(self.fail(i, attempt, call))
            self.failures += failing
            if failing:
                self.failed[call.prompt] = self.failed.get(call.prompt, 0) + 1
        if failing:
            raise self.error()
        return self.respond(call)


# Built once: parsing a string signature in many threads at once trips a CPython 3.11 bug in ast.
JUDGE_SIGNATURE = dspy.Signature("color -> verdict")


def judged(judge_lm):
    def judged_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        with dspy.context(lm=judge_lm):
            dspy.Predict(JUDGE_SIGNATURE)(color=pred.color)
        return metric(gold, pred, trace, pred_name, pred_trace)

    return judged_metric


def run(*, task=None, reflection=None, judge=None, log_dir=None, threads=2, **kw):
    with dspy.context(lm=task or scripted_lm(task_respond, "scripted/task")):
        return GEPA(metric=judged(judge or scripted_lm(judge_respond, "scripted/judge")), max_metric_calls=BUDGET,
                    reflection_lm=reflection or scripted_lm(reflection_respond, "scripted/reflection"),
                    track_stats=True, log_dir=log_dir, num_threads=threads, **kw).compile(
            TwoStep(), trainset=split()[0], valset=split()[1])


def key(program):
    r = program.detailed_results
    return r.candidate_texts, r.parents, r.val_subscores, r.discovery_eval_counts, r.total_metric_calls


@pytest.fixture(scope="module")
def clean():
    program = run()
    assert len(program.detailed_results.candidates) >= 3
    return key(program)


ROLES = ("task", "judge", "reflection")
RESPOND = {"task": task_respond, "judge": judge_respond, "reflection": reflection_respond}


def lm_for(role, faulty, **kw):
    return {role: scripted_lm(faulty, f"scripted/{role}", **kw)}


# ---------------------------------------------------------------- what DSPy does with engine errors


def test_dspy_retries_a_custom_engines_rate_limits_honouring_retry_after():
    faulty = Faulty(lambda call: {"color": "red"}, lambda i, *_: i < 3,
                    lambda: dspy.lm15.RateLimitError("429 slow down", retry_after=0.05))
    lm = scripted_lm(faulty, "scripted/flaky", num_retries=3)
    start = time.monotonic()
    with dspy.context(lm=lm):
        assert dspy.Predict("word -> color")(word="x").color == "red"
    assert faulty.calls == 4 and time.monotonic() - start >= 0.15
    faulty.calls = 0
    with dspy.context(lm=scripted_lm(faulty, "scripted/flaky", num_retries=2)), pytest.raises(LMRateLimitError):
        dspy.Predict("word -> color")(word="x")
    assert faulty.calls == 3


def test_without_retry_after_dspy_backs_off_exponentially():
    faulty = Faulty(lambda call: {"color": "red"}, lambda i, *_: i < 1, lambda: dspy.lm15.RateLimitError("429"))
    start = time.monotonic()
    with dspy.context(lm=scripted_lm(faulty, "scripted/flaky", num_retries=1)):
        dspy.Predict("word -> color")(word="x")
    assert faulty.calls == 2 and time.monotonic() - start >= 1.0  # DSPy's first backoff step is 1 s


# ---------------------------------------------------------------- transient faults: retried, result unchanged


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("error", [
    lambda: dspy.lm15.RateLimitError("429 Too Many Requests", retry_after=0.001),
    lambda: dspy.lm15.TimeoutError("request timed out after 600 s", retry_after=0.001),
    lambda: dspy.lm15.ServerError("502 Bad Gateway", retry_after=0.001),
], ids=["rate_limit", "timeout", "server_error"])
def test_transient_faults_are_retried_and_the_result_is_unchanged(clean, role, error):
    # Every request fails 0 to 3 times before it gets through (by a hash of the prompt, so the same
    # pattern for any thread timing); num_retries=3 covers that.
    faulty = Faulty(RESPOND[role], lambda i, attempt, call: attempt < zlib.crc32(call.prompt.encode()) % 4, error)
    program = run(**lm_for(role, faulty, num_retries=3))
    assert key(program) == clean
    assert faulty.failures >= 5


# ---------------------------------------------------------------- faults that last: the run stops naming the LM


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("error,kind,retried", [
    (lambda: dspy.lm15.RateLimitError("429 quota exceeded", retry_after=0.001), "LMRateLimitError", True),
    (lambda: dspy.lm15.TimeoutError("request timed out", retry_after=0.001), "LMTimeoutError", True),
    (lambda: dspy.lm15.AuthError("Incorrect API key provided"), "LMAuthError", False),
    (lambda: dspy.lm15.UnsupportedModelError("The model `gpt-9` does not exist"), "LMUnsupportedModelError", False),
    (lambda: dspy.lm15.BillingError("insufficient credit"), "LMBillingError", False),
], ids=["rate_limit", "timeout", "auth", "not_found", "billing"])
def test_lasting_faults_stop_the_run_naming_the_lm(tmp_path, clean, role, error, kind, retried):
    healthy_calls = {"task": 25, "judge": 25, "reflection": 2}[role]
    faulty = Faulty(RESPOND[role], lambda i, *_: i >= healthy_calls, error)  # healthy for a while, then down
    with pytest.raises(InfrastructureError) as info:
        run(**lm_for(role, faulty, num_retries=2), log_dir=tmp_path, threads=1)
    message = str(info.value)
    assert info.value.lm == f"scripted/{role}"
    assert f"The LM scripted/{role} failed with {kind}" in message
    assert "rerun with the same log_dir to resume" in message
    # One request failed: retried num_retries times if the error is transient, else not at all; and
    # nothing was sent after it.
    assert list(faulty.failed.values()) == [3 if retried else 1]
    assert faulty.calls == healthy_calls + faulty.failures
    failed = json.loads((tmp_path / JOURNAL_NAME).read_text().splitlines()[-1])
    assert failed["type"] == "run_failed" and kind in failed["error"] and "scripted/" + role in failed["error"]


@pytest.mark.parametrize("role", ROLES)
def test_after_an_outage_the_run_resumes_to_the_same_result(tmp_path, clean, role):
    down = Faulty(RESPOND[role], lambda i, *_: i >= {"task": 30, "judge": 30, "reflection": 3}[role], lambda: dspy.lm15.RateLimitError("429", retry_after=0.001))
    with pytest.raises(InfrastructureError):
        run(**lm_for(role, down, num_retries=1), log_dir=tmp_path)
    paid = down.calls - down.failures
    healthy = Faulty(RESPOND[role], lambda *_: False, None)
    assert key(run(**lm_for(role, healthy), log_dir=tmp_path)) == clean
    reference = Faulty(RESPOND[role], lambda *_: False, None)
    run(**lm_for(role, reference))
    # The resumed run repeats none of the calls the first session paid for, except those in flight (2 threads).
    assert healthy.calls <= reference.calls - paid + 2 * 2


# ---------------------------------------------------------------- a broken judge is an outage, not a metric bug


def test_judge_outage_inside_the_metric_is_reported_as_infrastructure():
    judge = scripted_lm(Faulty(judge_respond, lambda *_: True, lambda: dspy.lm15.AuthError("key revoked")),
                        "scripted/judge")
    with pytest.raises(InfrastructureError, match=r"The LM scripted/judge failed with LMAuthError: .*key revoked") \
            as info:
        run(judge=judge, threads=1)
    assert info.value.lm == "scripted/judge"
    assert "Metric" not in str(info.value)


def test_judge_outage_during_feedback_stops_the_run():
    """The judge fails only when asked for feedback (pred_name given), i.e. inside reflection."""
    judge = scripted_lm(judge_respond, "scripted/judge")
    broken = scripted_lm(Faulty(judge_respond, lambda *_: True, lambda: dspy.lm15.UnsupportedModelError("no such model")),
                         "scripted/judge-feedback")

    def judged_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        with dspy.context(lm=broken if pred_name else judge):
            dspy.Predict(JUDGE_SIGNATURE)(color=pred.color)
        return metric(gold, pred, trace, pred_name, pred_trace)

    with dspy.context(lm=scripted_lm(task_respond, "scripted/task")), \
            pytest.raises(InfrastructureError, match="scripted/judge-feedback") as info:
        GEPA(metric=judged_metric, max_metric_calls=BUDGET, reflection_lm=scripted_lm(reflection_respond),
             num_threads=1).compile(TwoStep(), trainset=split()[0], valset=split()[1])
    assert info.value.lm == "scripted/judge-feedback"


# ---------------------------------------------------------------- empty or garbage replies from the task LM

GARBAGE = "lorem ipsum dolor sit amet, the colour is probably somewhere in the rainbow"


def test_empty_or_garbage_task_replies_score_failure_and_reach_reflection(tmp_path):
    def respond(call):
        word = call.field("word")
        if word == "banana":
            return GARBAGE
        if word == "lime":
            return ""
        return task_respond(call)

    reflection = scripted_lm(reflection_respond, "scripted/reflection")
    run(task=scripted_lm(respond, "scripted/task"), reflection=reflection, log_dir=tmp_path, failure_score=-0.5,
        add_format_failure_as_feedback=True)
    train = split()[0]
    rollouts = [json.loads(line) for line in (tmp_path / JOURNAL_NAME).read_text().splitlines()
                if '"type": "rollout"' in line]
    ids = {w: i for i, w in enumerate(ex.word for ex in train)}
    for word, raw in (("banana", GARBAGE), ("lime", "")):
        mine = [r for r in rollouts if r["key"][1] == "train" and r["key"][2] == ids[word]]
        assert mine and all(r["score"] == -0.5 and "AdapterParseError" in r["error"] for r in mine)
        assert all(e["raw"] == raw for r in mine for e in r["trajectory"]["entries"] if e.get("outputs") is None)
    # The raw garbage is shown to the reflection LM, with the expected format as feedback.
    prompts = [c.prompt for c in reflection.engine.calls]
    assert any(GARBAGE in p and "[[ ## color ## ]]" in p for p in prompts)


# ---------------------------------------------------------------- cut-off or garbage replies from the reflection LM


def reply_of(kind: str, call) -> ScriptedReply | str | dict:
    good = reflection_respond(call)
    if kind == "good":
        return good
    if kind == "cutoff":
        return ScriptedReply(f"[[ ## new_instruction ## ]]\n{good['new_instruction']}\nbanana =>",
                             finish_reason="length")
    if kind == "garbage":
        return "Sure! Here is a much better instruction for you: be accurate."
    if kind == "empty":
        return "[[ ## new_instruction ## ]]\n   \n"
    raise ValueError(kind)


class ScriptedReflection:
    """Replies of the given kinds in order, one kind per reflection (DSPy's JSON fallback call after an
    unparsable reply gets the same kind); "good" once the list is used up."""

    def __init__(self, kinds):
        self.kinds = list(kinds)
        self.used: list[str] = []
        self.lm = scripted_lm(self, "scripted/reflection")

    def __call__(self, call):
        if not call.wants_json or not self.used:
            self.used.append(self.kinds[len(self.used)] if len(self.used) < len(self.kinds) else "good")
        return reply_of(self.used[-1], call)


def bad_texts(program) -> list[str]:
    return [t for c in program.detailed_results.candidate_texts for t in c.values()
            if t.endswith("banana =>") or "Sure!" in t or not t.strip()]


@pytest.mark.parametrize("kind", ["cutoff", "garbage", "empty"])
def test_unusable_reflections_are_never_adopted_and_are_counted(kind, caplog):
    pattern = [kind, kind, "good"] * 6
    reflection = ScriptedReflection(pattern)
    program = run(reflection=reflection.lm, max_consecutive_failures=3, threads=1)
    statuses = [p["status"] for p in program.detailed_results.proposals]
    assert bad_texts(program) == []
    failed = reflection.used.count(kind)
    assert statuses.count("reflection_failed") == failed >= 2
    assert f"{failed} of {len(reflection.used)} reflections could not be used (never adopted" in caplog.text
    assert len(program.detailed_results.candidates) >= 2  # the good replies were used


@pytest.mark.parametrize("limit", [1, 3])
@pytest.mark.parametrize("kind", ["cutoff", "garbage"])
def test_n_unusable_reflections_in_a_row_raise(kind, limit):
    reflection = ScriptedReflection(["good"] + [kind] * 10)
    with pytest.raises(ReflectionError, match=f"{limit} proposals in a row produced no usable candidate"):
        run(reflection=reflection.lm, max_consecutive_failures=limit, threads=1)
    assert reflection.used == ["good"] + [kind] * limit


def test_a_broken_reflection_lm_is_noticed_between_perfect_minibatches():
    """Most minibatches are already perfect (skipped without reflecting); every reflection is cut off.
    The skips must not hide the failures: they are still 3 reflections in a row."""
    seed_rules = "\n".join(f"{w} => {c}" for w, c in list(WORDS.items())[:9])
    program = dspy.Predict(dspy.Signature("word -> color", f"Answer the color.\n{seed_rules}"))
    reflection = ScriptedReflection(["cutoff"] * 50)
    with dspy.context(lm=scripted_lm(task_respond, "scripted/task")), pytest.raises(ReflectionError):
        GEPA(metric=metric, max_metric_calls=300, reflection_lm=reflection.lm, max_consecutive_failures=3,
             num_threads=1).compile(program, trainset=examples(), valset=examples()[:8])
    assert len(reflection.used) == 3


def longest_bad_run(kinds: list[str]) -> int:
    best = run_len = 0
    for kind in kinds:
        run_len = run_len + 1 if kind != "good" else 0
        best = max(best, run_len)
    return best


@settings(max_examples=25, deadline=None)
@given(kinds=st.lists(st.sampled_from(["good", "cutoff", "garbage", "empty"]), max_size=10),
       limit=st.integers(1, 4))
def test_any_sequence_of_reflection_replies(kinds, limit):
    """Whatever the reflection LM replies, in any order: unusable replies are never adopted and each is
    counted; the run raises ReflectionError exactly when ``limit`` of them come in a row, right then."""
    reflection = ScriptedReflection(kinds)
    try:
        program = run(reflection=reflection.lm, max_consecutive_failures=limit, threads=1)
    except ReflectionError as exc:
        used = reflection.used
        assert all(k != "good" for k in used[-limit:]), "raised without limit unusable replies in a row"
        assert longest_bad_run(used[:-1]) < limit, "did not raise when the limit was first reached"
        assert f"{limit} proposals in a row" in str(exc)
        return
    used = reflection.used
    assert longest_bad_run(used) < limit
    statuses = [p["status"] for p in program.detailed_results.proposals]
    assert statuses.count("reflection_failed") == sum(k != "good" for k in used)
    assert bad_texts(program) == []


# ---------------------------------------------------------------- old-style LMs: provider errors of any type


def import_litellm(monkeypatch):
    """litellm, imported without fetching its price list from the network (a minute of retries offline)."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm


class LegacyLM(dspy.BaseLM):
    """An old-style LM (a ``dspy.BaseLM`` subclass implementing ``forward``, which DSPy 3.4 still runs): answers
    as ``respond`` would, and from the ``healthy``-th call on raises ``error(model)`` from its provider SDK, which
    DSPy lets through unchanged."""

    def __init__(self, model, respond, healthy, error, litellm):
        super().__init__(model=model, cache=False)
        self.respond, self.healthy, self.error, self.litellm = respond, healthy, error, litellm
        self.calls = 0
        self._lock = threading.Lock()

    def forward(self, prompt=None, messages=None, **kwargs):
        with self._lock:
            self.calls += 1
            failing = self.calls > self.healthy
        if failing:
            raise self.error(self.model)
        call = SimpleNamespace(system=messages[0]["content"], prompt="\n\n".join(m["content"] for m in messages),
                               field=lambda name: chat_fields(messages[-1]["content"]).get(name))
        fields = self.respond(call)
        text = "\n\n".join([*(f"[[ ## {k} ## ]]\n{v}" for k, v in fields.items()), "[[ ## completed ## ]]"])
        return self.litellm.ModelResponse(model=self.model, usage={"prompt_tokens": 10, "completion_tokens": 5,
                                                                   "total_tokens": 15},
                                          choices=[{"index": 0, "finish_reason": "stop",
                                                    "message": {"role": "assistant", "content": text}}])


def legacy_error(name, litellm):
    """The provider error an old-style LM raises: litellm's types (what most of them wrap), or DSPy's own."""
    return {
        "litellm-rate-limit": lambda model: litellm.RateLimitError("429 quota exceeded", llm_provider="openai",
                                                                   model=model),
        "litellm-auth": lambda model: litellm.AuthenticationError("Incorrect API key provided", llm_provider="openai",
                                                                  model=model),
        "litellm-connection": lambda model: litellm.APIConnectionError("connection refused", llm_provider="openai",
                                                                       model=model),
        "dspy-auth": lambda model: dspy.lm15.AuthError("Incorrect API key provided"),
    }[name]


@pytest.mark.filterwarnings("ignore:Implementing custom LMs through BaseLM.forward:DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning:pydantic")
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("error", ["litellm-rate-limit", "litellm-auth", "litellm-connection", "dspy-auth"])
def test_an_old_style_lms_outage_stops_the_run_naming_it(tmp_path, monkeypatch, role, error):
    """Not scored 0 and journaled as the program failing (nor blamed on the metric or the reflection): the run
    stops at the first failure, naming the LM, and no failed rollout is recorded."""
    litellm = import_litellm(monkeypatch)
    healthy = {"task": 25, "judge": 25, "reflection": 2}[role]
    lm = LegacyLM(f"legacy/{role}", RESPOND[role], healthy, legacy_error(error, litellm), litellm)
    with pytest.raises(InfrastructureError) as info:
        run(**{role: lm}, log_dir=tmp_path, threads=1, preflight=False)
    assert info.value.lm == f"legacy/{role}" and f"The LM legacy/{role} failed with " in str(info.value)
    assert lm.calls == healthy + 1
    records = [json.loads(line) for line in (tmp_path / JOURNAL_NAME).read_text().splitlines()]
    assert not any(r["type"] == "rollout" and r["error"] for r in records)
    assert records[-1]["type"] == "run_failed" and f"legacy/{role}" in records[-1]["error"]
