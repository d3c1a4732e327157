"""Tokens and dollars through litellm to a real local OpenAI-compatible server (slow).

Its home is beside the demo's tests because the demo's local server is the only real server an offline machine
has; what it checks is the core's accounting (``detailed_results.usage`` and ``total_cost``) against the usage that
server reports.
"""

import dspy
import pytest

from dspy_gepa import GEPA
from dspy_gepa.demo.compact_adapter import CompactJSONAdapter
from dspy_gepa.demo.local_lm import LocalLMServer
from dspy_gepa.demo.task import build_program, load_splits, review_metric

from .helpers import needs_local

PRICE = (0.25, 1.25)  # USD per million input / output tokens, registered for the local model


@pytest.mark.slow
@needs_local
def test_recorded_tokens_and_dollars_match_the_servers_usage(tmp_path):
    def proposer(candidate, reflective_dataset, components_to_update):
        return {c: candidate[c] + " Words like 'not' and 'never' flip the sentiment." for c in components_to_update}

    train, val, _ = load_splits()
    with LocalLMServer() as server:
        lm = server.lm(cache=False)  # every call reaches the server
        gepa = GEPA(metric=review_metric, max_metric_calls=14, instruction_proposer=proposer, track_stats=True,
                    lm_prices={server.model: PRICE}, log_dir=str(tmp_path), num_threads=1, preflight=True)
        with dspy.context(lm=lm, adapter=CompactJSONAdapter()):
            r = gepa.compile(build_program(), trainset=train[:4], valset=val[:6]).detailed_results
    entries = lm.history  # each entry's usage is what the server reported in its response
    assert entries and all(e["usage"].get("prompt_tokens", 0) > 0 for e in entries)
    server_in = sum(e["usage"]["prompt_tokens"] for e in entries)
    server_out = sum(e["usage"]["completion_tokens"] for e in entries)
    task = r.usage["task"]
    assert (task["input_tokens"], task["output_tokens"]) == (server_in, server_out)
    assert task["cost"] == pytest.approx((server_in * PRICE[0] + server_out * PRICE[1]) / 1e6)
    assert task["unpriced"] == 0 and task["calls"] == len(entries)
    assert r.usage["preflight"]["calls"] == 1 and r.usage["preflight"]["input_tokens"] > 0
    assert r.total_cost == pytest.approx(task["cost"] + r.usage["preflight"]["cost"])
    assert r.total_metric_calls <= 14
