"""System-aware merge (``engine/merge.py``)."""

from dspy_gepa.engine import events as ev

from .fakes import FakeAdapter, run


def test_merge_combines_two_lineages():
    result, _, events = run(adapter=FakeAdapter(("a", "b"), capacity=2), components=("a", "b"), budget=600)
    merges = [e for e in events if isinstance(e, ev.ProposalCommitted) and e.kind == "merge"]
    assert merges, "no merge was attempted"
    assert len(merges) <= 5
    s = result.state
    for e in merges:
        if e.new_candidate_idx is not None:
            assert len(s.parents[e.new_candidate_idx]) == 2
