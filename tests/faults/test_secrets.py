"""Credentials that reach GEPA by the back door — a provider error that echoes the key, a key known only
from the environment, an LM with an API key and an Authorization header set on a predictor, a judge LM's
plain-hex key known only to the metric — appear in nothing GEPA writes or raises: the error and its chained
causes, the journal, the report, best_program.json, the log records of every dspy_gepa logger at DEBUG level,
the console, and the prompts sent to the reflection LM (another provider). Masking takes time linear in the
text, whatever the text. ``tests/tracking/test_secrets.py`` does the same for W&B and MLflow."""

from __future__ import annotations

import http.server
import json
import logging
import math
import secrets
import threading
import time
import traceback

import dspy
import dspy.lm15
import pytest

from dspy_gepa import GEPA, InfrastructureError
from dspy_gepa._redact import redact
from dspy_gepa.testing import scripted_lm

from ..helpers import TwoStep, metric, reflection_lm, rule_for, split
from ..secret_scan import scan

ECHOED = "sk-proj-SECRET0123456789abcdefghij"  # shaped like a key: redacted by its look
FROM_ENV = "AIzaSyD4-SECRET-0123456789abcdef"  # no telltale shape: redacted because GEMINI_API_KEY holds it
HEADER = "eyJhbGciOiJIUzI1NiJ9.SECRET.0123456789"
PLANTED = (ECHOED, FROM_ENV, HEADER)


def scan_all(tmp_path, *texts):
    for i, text in enumerate(texts):
        scan(f"text {i}", text, PLANTED)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    for path in files:
        scan(str(path), path.read_bytes(), PLANTED)
    return {p.name for p in files}


def raised(exc: BaseException) -> str:
    """Everything Python prints for an uncaught exception: the message, the causes, the notes."""
    return "".join(traceback.format_exception(exc))


@pytest.fixture
def debug_logs(caplog, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", FROM_ENV)
    caplog.set_level(logging.DEBUG, logger="dspy_gepa")
    return caplog


def leaky_task(fail_after: int):
    """Echoes the keys in a context-window error on one example (scored as a program failure, journaled,
    shown to reflection) and, after ``fail_after`` calls, in an authentication error (stops the run)."""
    calls = {"n": 0}

    def respond(call):
        calls["n"] += 1
        if calls["n"] > fail_after:
            raise dspy.lm15.AuthError(f"Incorrect API key provided: {ECHOED}. Key {FROM_ENV} was also refused.")
        if call.field("word") == "kiwi":
            raise dspy.lm15.ContextLengthError(f"prompt too long (account key {ECHOED}, fallback {FROM_ENV})")
        return {"color": rule_for(call.system, call.field("word")) or "unknown"}

    return scripted_lm(respond, "scripted/task")


def test_provider_errors_that_echo_keys_leak_nowhere(tmp_path, debug_logs, capfd):
    reflection = reflection_lm()
    with dspy.context(lm=leaky_task(fail_after=120)), pytest.raises(InfrastructureError) as info:
        GEPA(metric=metric, max_metric_calls=300, reflection_lm=reflection, log_dir=str(tmp_path), num_threads=2,
             track_stats=True).compile(TwoStep(), trainset=split()[0], valset=split()[1])
    assert "LMAuthError" in str(info.value) and "Incorrect API key provided" in str(info.value)
    names = scan_all(tmp_path, raised(info.value), repr(info.value.cause), debug_logs.text, *capfd.readouterr())
    assert {"journal.jsonl", "report.html", "best_program.json"} <= names
    # The failing example's error is journaled, masked; nothing reached the reflection LM either.
    journal = (tmp_path / "journal.jsonl").read_text()
    assert "ContextWindowExceededError: [scripted/task] prompt too long (account key sk-***, fallback ***)" in journal
    assert reflection.engine.calls
    for call in reflection.engine.calls:
        scan("reflection prompt", call.prompt, PLANTED)


def test_preflight_error_that_echoes_a_key(tmp_path, debug_logs, capfd):
    def denied(call):
        raise dspy.lm15.AuthError(f"invalid x-api-key {FROM_ENV}", provider="anthropic")

    with dspy.context(lm=scripted_lm(lambda call: {"color": "red"}, "scripted/task")), \
            pytest.raises(InfrastructureError, match=r"Pre-flight check of the reflection LM") as info:
        GEPA(metric=metric, max_metric_calls=100, reflection_lm=scripted_lm(denied, "scripted/denied"),
             log_dir=str(tmp_path), preflight=True).compile(TwoStep(), trainset=split()[0], valset=split()[1])
    scan_all(tmp_path, raised(info.value), debug_logs.text, *capfd.readouterr())


class WithEscalation(dspy.Module):
    """TwoStep plus a predictor on a provider LM holding an API key and an Authorization header; it is
    only called for words that never occur, so the run stays offline."""

    def __init__(self):
        super().__init__()
        self.steps = TwoStep()
        self.escalate = dspy.Predict("word -> color")
        self.escalate.lm = dspy.LM("openai/gpt-4.1-mini", api_key=ECHOED,
                                   extra_headers={"Authorization": f"Bearer {HEADER}", "X-Team": "blue"})

    def forward(self, word):
        return self.escalate(word=word) if word == "never" else self.steps(word=word)


def test_saved_programs_hold_no_key_or_authorization_header(tmp_path, debug_logs, capfd):
    with dspy.context(lm=scripted_lm(lambda call: {"color": rule_for(call.system, call.field("word")) or "unknown"},
                                     "scripted/task")):
        optimized = GEPA(metric=metric, max_metric_calls=120, reflection_lm=reflection_lm(), log_dir=str(tmp_path),
                         preflight=False, track_stats=True).compile(WithEscalation(), trainset=split()[0],
                                                                    valset=split()[1])
    assert len(optimized.detailed_results.candidates) > 1
    saved = (tmp_path / "best_program.json").read_text()
    assert "X-Team" in saved and "gpt-4.1-mini" in saved  # the LM's state is kept, minus its credentials
    scan_all(tmp_path, debug_logs.text, *capfd.readouterr())
    loaded = WithEscalation()
    loaded.load(str(tmp_path / "best_program.json"))
    assert loaded.steps.first.signature.instructions == optimized.steps.first.signature.instructions


# ---------------------------------------------------------------- a judge LM's key, known only to the metric


class KeyEchoingProvider(http.server.ThreadingHTTPServer):
    """A local OpenAI-compatible endpoint: answers the judge's first ``healthy`` requests, then refuses the key,
    echoing it back in the error, as providers do."""

    def __init__(self, healthy: int):
        self.healthy, self.requests = healthy, 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), self.Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            server = self.server
            with server.lock:
                server.requests += 1
                ok = server.requests <= server.healthy
            if ok:
                code, body = 200, {"id": "judge", "object": "chat.completion", "created": int(time.time()),
                                   "model": "gpt-4o-mini", "usage": {"prompt_tokens": 50, "completion_tokens": 5,
                                                                     "total_tokens": 55},
                                   "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                       "role": "assistant",
                                       "content": "[[ ## verdict ## ]]\nplausible\n\n[[ ## completed ## ]]"}}]}
            else:
                key = self.headers.get("Authorization", "").split()[-1]
                code, body = 401, {"error": {"message": f"Incorrect API key provided: {key}.", "code": "invalid_api_key"}}
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass


JUDGE_SIGNATURE = dspy.Signature("color -> verdict")


def test_a_judge_lms_plain_key_echoed_by_its_provider_leaks_nowhere(tmp_path, debug_logs, capfd):
    """An Azure-style key (plain hex, no telltale shape), passed as api_key= to a judge LM that only the metric
    knows, and not in the environment."""
    key = secrets.token_hex(16)
    provider = KeyEchoingProvider(healthy=40)
    judge = dspy.LM("openai/gpt-4o-mini", api_key=key, api_base=f"http://127.0.0.1:{provider.server_port}/v1",
                    num_retries=0, cache=False)

    def judged_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        with dspy.context(lm=judge):
            dspy.Predict(JUDGE_SIGNATURE)(color=pred.color)
        return metric(gold, pred, trace, pred_name, pred_trace)

    try:
        with dspy.context(lm=scripted_lm(lambda call: {"color": rule_for(call.system, call.field("word")) or "unknown"},
                                         "scripted/task")), pytest.raises(InfrastructureError) as info:
            GEPA(metric=judged_metric, max_metric_calls=300, reflection_lm=reflection_lm(), log_dir=str(tmp_path),
                 num_threads=2, track_stats=True).compile(TwoStep(), trainset=split()[0], valset=split()[1])
    finally:
        provider.shutdown()
    assert info.value.lm == "openai/gpt-4o-mini" and "Incorrect API key provided: ***" in str(info.value)
    planted = (key,)
    for name, text in [("error", raised(info.value)), ("cause", repr(info.value.cause)), ("logs", debug_logs.text),
                       *zip(("stdout", "stderr"), capfd.readouterr(), strict=True)]:
        scan(name, text, planted)
    files = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"journal.jsonl", "report.html", "best_program.json"} <= set(files)
    for name, data in files.items():
        scan(name, data, planted)


# ---------------------------------------------------------------- masking is linear in the text

N = 20_000
PATHOLOGICAL = {
    "letters": "a" * N,  # a degenerate reply of a small model
    "letters then a scheme": "a" * N + "://",
    "a url without @": "x://" + "a" * (N // 2) + ":" + "b" * (N // 2),
    "colons after a scheme": "x://" + "a:" * (N // 2),
    "schemes": "ab://" * (N // 5),
    "spaces after a key name": "token" + " " * N,
    "spaces after bearer": "bearer" + " " * N + "!",
    "key prefixes": "sk-" * (N // 3),
    "equals after a key name": "api_key" + "=" * N,
}
BENIGN = ("The color of a ripe banana is yellow, and a plum is purple. " * (N // 60 + 1))[:N]


def best_time(fn, repeats=3):
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_masking_takes_time_linear_in_the_text(name):
    """Against the same masking of ordinary text of the same length, measured in the same test: a pattern that
    backtracks (quadratic) takes hundreds of times longer on these texts."""
    text = PATHOLOGICAL[name]
    assert best_time(lambda: redact(text)) < 10 * best_time(lambda: redact(BENIGN))
