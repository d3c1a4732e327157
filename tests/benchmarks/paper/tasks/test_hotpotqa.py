import dspy
import pytest

from benchmarks.paper.tasks import hotpotqa
from dspy_gepa.testing import scripted_lm

GOLD = dspy.Example(
    question="Which city hosts the museum founded by Ada?", answer="Paris", gold_titles=["Ada Museum", "Paris"]
).with_inputs("question")


def pred(answer, hop1=(), hop2=(), query="q2"):
    return dspy.Prediction(answer=answer, hop1_titles=list(hop1), hop2_titles=list(hop2), query_hop2=query)


def test_offline_splits_follow_the_paper_procedure():
    train, val, test = hotpotqa.load_splits()
    assert (len(train), len(val), len(test)) == (100, 200, 200)
    rows = hotpotqa.read_offline_rows()
    assert [ex.id for ex in test] == [r["id"] for r in rows[:200]]  # test = first 40%, in order
    assert [ex.id for ex in train] == [r["id"] for r in rows[400:]]
    small = hotpotqa.load_splits(sizes=(3, 4, 5))
    assert [len(s) for s in small] == [3, 4, 5]
    assert {ex.id for ex in small[2]} <= {ex.id for ex in test}
    assert small == hotpotqa.load_splits(sizes=(3, 4, 5))
    ex = test[0]
    assert set(ex.inputs().keys()) == {"question"} and len(ex.gold_titles) == 2 and ex.answer


def test_online_loader_fails_clearly_without_datasets_or_network(monkeypatch, offline_hub):
    from benchmarks.paper.common import DataUnavailableError

    monkeypatch.setitem(__import__("sys").modules, "datasets", None)  # not installed
    with pytest.raises(DataUnavailableError, match="pip install datasets"):
        hotpotqa.load_splits(offline=False)
    monkeypatch.setitem(__import__("sys").modules, "datasets", offline_hub)
    with pytest.raises(DataUnavailableError, match="hotpot_qa"):
        hotpotqa.load_splits(offline=False)
    assert offline_hub.calls == [(("hotpot_qa", "fullwiki"), {"split": "train"})]


def test_metric_is_normalized_exact_match():
    assert hotpotqa.metric(GOLD, pred("paris.")) == 1.0
    assert hotpotqa.metric(GOLD, pred("Paris, France")) == 0.0
    assert hotpotqa.metric(GOLD, dspy.Prediction()) == 0.0


def test_feedback_for_a_right_answer_with_all_documents():
    fb = hotpotqa.feedback_metric(GOLD, pred("Paris", hop1=["Ada Museum"], hop2=["Paris"]))
    assert fb.score == 1.0
    assert "is correct" in fb.feedback and "all gold documents were found" in fb.feedback


def test_feedback_for_a_right_answer_reached_with_a_gold_document_missing():
    fb = hotpotqa.feedback_metric(GOLD, pred("Paris", hop1=["Ada Museum"], hop2=["Rome"]))
    assert fb.score == 1.0
    assert "is correct" in fb.feedback and 'still missing: "Paris"' in fb.feedback


def test_query_writer_feedback_names_the_document_missing_after_hop_1():
    p = pred("Lyon", hop1=["Ada Museum", "Lyon"], hop2=["Rome"], query="Ada museum location")
    fb = hotpotqa.feedback_metric(GOLD, p, pred_name="create_query_hop2.predict")
    assert fb.score == 0.0
    assert 'should have found the missing "Paris"' in fb.feedback
    assert "Ada museum location" in fb.feedback and "none of them" in fb.feedback
    assert 'correct answer is "Paris"' in fb.feedback
    found = hotpotqa.feedback_metric(
        GOLD, pred("Lyon", hop1=["Ada Museum"], hop2=["Paris"]), pred_name="create_query_hop2"
    )
    assert 'it found "Paris"' in found.feedback


def test_summarizer_and_answer_feedback_are_predictor_specific():
    p = pred("Lyon", hop1=["Ada Museum"], hop2=["Rome"])
    s1 = hotpotqa.feedback_metric(GOLD, p, pred_name="summarize1.predict").feedback
    assert 'contained gold "Ada Museum"' in s1 and 'missing "Paris"' in s1
    s2 = hotpotqa.feedback_metric(GOLD, p, pred_name="summarize2.predict").feedback
    assert 'missed "Paris"' in s2
    fa = hotpotqa.feedback_metric(GOLD, p, pred_name="final_answer.predict").feedback
    assert 'correct answer is "Paris"' in fa and 'missing "Paris"' in fa
    overall = hotpotqa.feedback_metric(GOLD, p).feedback
    assert "Hop 1" in overall and "hop-2 query" in overall


def test_program_runs_two_hops_and_exposes_the_four_predictors(list_retriever):
    docs = {"Ada Museum": "The Ada Museum was founded by Ada in Paris.", "Paris": "Paris is a city.", "Rome": "R."}
    retriever = list_retriever(docs, {GOLD.question: ["Ada Museum"], "where is it": ["Paris"]})

    def reply(call):
        out = {"reasoning": "r"}
        if "summary" in call.system and "`summary`" in call.system:
            out["summary"] = "Ada founded the Ada Museum in Paris."
        if "`query`" in call.system:
            out["query"] = "where is it"
        if "`answer`" in call.system:
            out["answer"] = "Paris"
        return out

    program = hotpotqa.make_program(retriever=retriever, k=3)
    assert [n for n, _ in program.named_predictors()] == [f"{p}.predict" for p in hotpotqa.PREDICTORS]
    with dspy.context(lm=scripted_lm(reply)):
        out = program(question=GOLD.question)
    assert out.hop1_titles == ["Ada Museum"] and out.hop2_titles == ["Paris"]
    assert retriever.queries == [GOLD.question, "where is it"]
    assert hotpotqa.feedback_metric(GOLD, out).score == 1.0
    assert program.deepcopy().retriever is retriever
    with pytest.raises(ValueError):
        hotpotqa.make_program(k=0)
