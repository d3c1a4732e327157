import dspy
import pytest

from benchmarks.paper.tasks import hotpotqa, hover
from benchmarks.paper.tasks.multihop import MultiHopProgram, coverage, missing
from dspy_gepa.testing import scripted_lm


def test_missing_compares_titles_normalized_and_keeps_gold_order():
    assert missing(["Café", "B", "C d"], ["c  D", "cafÉ"]) == ["B"]
    assert missing(["A", "B"], None) == ["A", "B"]


def test_coverage_tracks_what_each_hop_added():
    first, second, third = coverage(["A", "B", "C"], [["b", "x"], [], ["A", "B"]])
    assert (first.new, first.found, first.missing) == (["B"], ["B"], ["A", "C"])
    assert (second.new, second.found, second.missing) == ([], ["B"], ["A", "C"])
    assert (third.new, third.found, third.missing) == (["A"], ["A", "B"], ["C"])
    assert coverage(["A"], []) == []


@pytest.mark.parametrize("task", [hotpotqa, hover])
def test_both_tasks_start_with_the_same_two_hops(task, list_retriever):
    docs = {t: f"{t} text" for t in "ABCD"}
    retriever = list_retriever(docs, {"input": ["A"], "q2": ["B"]})

    def reply(call):
        out = {"reasoning": "r", "summary": "s", "query": "q2", "answer": "a"}
        return {k: v for k, v in out.items() if f"`{k}`" in call.system}

    program = task.make_program(retriever=retriever, k=1)
    assert isinstance(program, MultiHopProgram)
    with dspy.context(lm=scripted_lm(reply)):
        hops = program.two_hops("input")
    assert ([p.title for p in hops.hop1], hops.query_2, [p.title for p in hops.hop2]) == (["A"], "q2", ["B"])
    assert (hops.summary_1, hops.summary_2) == ("s", "s")
    assert retriever.queries == ["input", "q2"]
