import dspy
import pytest

from benchmarks.paper.tasks import hover
from dspy_gepa.testing import scripted_lm

GOLD = dspy.Example(claim="A claim.", gold_titles=["A", "B", "C"]).with_inputs("claim")


def pred(*hops, queries=("A claim.", "query two", "query three")):
    hops = [list(h) for h in hops]
    return dspy.Prediction(
        titles=list(dict.fromkeys(t for h in hops for t in h)), hop_titles=hops, queries=list(queries)
    )


def test_offline_splits_use_three_title_claims_shuffled_with_the_paper_seeds():
    train, val, test = hover.load_splits()
    assert (len(train), len(val), len(test)) == (7, 13, 13)
    everything = train + val + test
    assert all(len(ex.gold_titles) == 3 for ex in everything)
    assert len({ex.id for ex in everything}) == 33
    assert hover.load_splits() == (train, val, test)
    assert hover.load_splits(seed=1) != (train, val, test)
    all_titles = hover.load_splits(num_titles=None)
    assert [len(s) for s in all_titles] == [14, 26, 26]
    with pytest.raises(ValueError, match="only 7"):
        hover.load_splits(sizes=(8, 1, 1))


def test_rows_in_either_supporting_facts_layout_give_distinct_titles():
    github = {"uid": "u", "claim": "c", "supporting_facts": [["A", 0], ["B", 2], ["A", 1]]}
    hf = {"uid": "u", "claim": "c", "supporting_facts": [{"key": "A", "value": 0}, {"key": "B", "value": 2}]}
    assert hover.example_from_row(github).gold_titles == ["A", "B"]
    assert hover.example_from_row(hf).gold_titles == ["A", "B"]


def test_online_loader_fails_clearly(monkeypatch, offline_hub):
    from benchmarks.paper.common import DataUnavailableError

    monkeypatch.setitem(__import__("sys").modules, "datasets", offline_hub)
    with pytest.raises(DataUnavailableError, match="hover"):
        hover.load_splits(offline=False)


def test_metric_needs_every_gold_title():
    assert hover.metric(GOLD, pred(["A", "x"], ["b"], ["C"])) == 1.0  # titles compare case-insensitively
    assert hover.metric(GOLD, pred(["A"], ["B"], ["x"])) == 0.0
    assert hover.metric(GOLD, dspy.Prediction()) == 0.0


def test_feedback_reports_each_hop():
    fb = hover.feedback_metric(GOLD, pred(["A", "x"], ["B"], ["y"]))
    assert fb.score == 0.0
    assert 'Hop 1 (the claim) found "A"' in fb.feedback
    assert 'Hop 2 (query "query two") found "B"' in fb.feedback
    assert 'Hop 3 (query "query three") found no new gold document; still missing after it: "C"' in fb.feedback
    assert 'missing "C" after three hops' in fb.feedback
    ok = hover.feedback_metric(GOLD, pred(["A", "B", "C"], [], []))
    assert ok.score == 1.0 and "All gold documents were retrieved" in ok.feedback


def test_query_and_summary_feedback_are_hop_specific():
    p = pred(["A"], ["x"], ["C"])
    q2 = hover.feedback_metric(GOLD, p, pred_name="create_query_hop2.predict").feedback
    assert 'Your query "query two" needed to find "B", "C"' in q2
    q3 = hover.feedback_metric(GOLD, p, pred_name="create_query_hop3.predict").feedback
    assert 'Your query "query three" needed to find "B", "C"' in q3 and 'found "C"' in q3
    s1 = hover.feedback_metric(GOLD, p, pred_name="summarize1.predict").feedback
    assert 'lead to the missing "B", "C"' in s1
    done = hover.feedback_metric(GOLD, pred(["A", "B", "C"], [], []), pred_name="create_query_hop3.predict")
    assert "already been found" in done.feedback


def test_program_runs_three_hops(list_retriever):
    docs = {t: f"{t} text" for t in "ABCD"}
    retriever = list_retriever(docs, {"A claim.": ["A"], "q2": ["B", "D"], "q3": ["C"]})
    queries = iter(["q2", "q3"])

    def reply(call):
        if "`query`" in call.system:
            return {"reasoning": "r", "query": next(queries)}
        return {"reasoning": "r", "summary": "s"}

    program = hover.make_program(retriever=retriever, k=2)
    assert [n for n, _ in program.named_predictors()] == [f"{p}.predict" for p in hover.PREDICTORS]
    with dspy.context(lm=scripted_lm(reply)):
        out = program(claim="A claim.")
    assert out.hop_titles == [["A"], ["B", "D"], ["C"]]
    assert out.titles == ["A", "B", "D", "C"]
    assert hover.metric(GOLD, out) == 1.0
