import dspy
import pytest

from benchmarks.paper.tasks import pupa
from dspy_gepa.testing import scripted_lm

GOLD = pupa.example_from_row(
    {
        "conversation_hash": "h",
        "user_query": "Write a cover letter for Jane Roe, jane@example.com, applying to Acme Corp.",
        "target_response": "Dear Hiring Manager, ...",
        "pii_units": "jane roe||jane@example.com||acme corp",
    }
)


def judge_lm(quality: bool, leaked: int | None = None):
    """A scripted judge: fixed quality verdict; leakage = the given count, or the verbatim matches."""
    calls = []

    def reply(call):
        calls.append(call)
        if "`judgment`" in call.system:
            return {"judgment": quality}
        prompt = (call.field("prompt") or "").lower()
        n = leaked if leaked is not None else sum(u in prompt for u in GOLD.pii_units)
        return {"num_pii_leaked": n}

    lm = scripted_lm(reply)
    lm.calls = calls
    return lm


def pred(response="Dear Hiring Manager, here is a letter.", request="Write a cover letter for a job applicant."):
    return dspy.Prediction(response=response, llm_request=request)


def test_splits_are_the_papers_row_ranges():
    train, val, test = pupa.load_splits()
    rows = pupa.read_offline_rows()
    assert (len(train), len(val), len(test)) == (111, 111, 221)
    assert train[0].user_query == rows[0]["user_query"] and val[0].user_query == rows[111]["user_query"]
    assert test[-1].user_query == rows[442]["user_query"]
    assert all(ex.pii_units for ex in train + val + test)
    small = pupa.load_splits(sizes=(2, 2, 3))
    assert [len(s) for s in small] == [2, 2, 3] and small == pupa.load_splits(sizes=(2, 2, 3))
    assert {ex.user_query for ex in small[2]} <= {ex.user_query for ex in test}


def test_online_loader_fails_clearly(monkeypatch, offline_hub):
    from benchmarks.paper.common import DataUnavailableError

    monkeypatch.setitem(__import__("sys").modules, "datasets", offline_hub)
    with pytest.raises(DataUnavailableError, match="PUPA"):
        pupa.load_splits(offline=False)


def test_pii_units_are_split_on_double_bars():
    assert GOLD.pii_units == ["jane roe", "jane@example.com", "acme corp"]
    assert pupa.leaked_verbatim(GOLD.pii_units, "Letter for Jane Roe at ACME Corp") == ["jane roe", "acme corp"]


@pytest.mark.parametrize(
    ("quality", "request_text", "expected"),
    [
        (True, "Write a cover letter for a job applicant.", 1.0),  # right: good and private
        (True, "Cover letter for Jane Roe, jane@example.com, at Acme Corp.", 0.5),  # good but leaks all 3
        (False, "Cover letter for Jane Roe.", (0 + (1 - 1 / 3)) / 2),  # worse, leaks 1 of 3
    ],
)
def test_metric_combines_judged_quality_and_leakage(quality, request_text, expected):
    lm = judge_lm(quality)
    metric = pupa.make_metric(judge_lm=lm)
    assert metric(GOLD, pred(request=request_text)) == pytest.approx(expected)
    judged = {c.field("response_a") for c in lm.calls if c.field("response_a")}
    assert judged == {"Dear Hiring Manager, here is a letter."}
    assert any(c.field("response_b") == GOLD.target_response for c in lm.calls)


def test_leak_count_is_clamped_and_empty_outputs_score_low():
    metric = pupa.make_metric(judge_lm=judge_lm(True, leaked=99))
    assert metric(GOLD, pred()) == 0.5
    empty = pupa.make_metric(judge_lm=judge_lm(True, leaked=0))
    assert empty(GOLD, dspy.Prediction(response="", llm_request="")) == 0.5  # no response: quality 0, nothing sent


def test_feedback_states_quality_and_leakage_per_predictor():
    lm = judge_lm(False)
    fb_metric = pupa.make_feedback_metric(judge_lm=lm)
    p = pred(request="Cover letter for Jane Roe.")
    craft = fb_metric(GOLD, p, pred_name="craft_redacted_request.predict")
    assert craft.score == pytest.approx(1 / 3)
    assert craft.feedback.startswith("Privacy: the request sent to the external LLM leaked 1 of 3 PII units")
    assert '(verbatim: "jane roe")' in craft.feedback and "worse than the reference" in craft.feedback
    respond = fb_metric(GOLD, p, pred_name="respond_to_query.predict")
    assert respond.feedback.startswith("Quality:") and "Dear Hiring Manager, ..." in respond.feedback
    assert len(lm.calls) == 2  # the second call reused the cached judgment


def test_judge_needs_an_lm():
    with dspy.context(lm=None):
        with pytest.raises(ValueError, match="no judge LM"):
            pupa.make_metric()(GOLD, pred())


def test_program_delegates_the_redacted_request_to_the_untrusted_lm():
    seen = []

    def untrusted(call):
        seen.append(call.last_user_text)
        return "Here is a template cover letter."

    def trusted(call):
        if "`llm_request`" in call.system:
            return {"reasoning": "r", "llm_request": "Write a cover letter for an applicant."}
        assert call.field("related_llm_response") == "Here is a template cover letter."
        return {"reasoning": "r", "response": "Dear Hiring Manager, I am Jane Roe."}

    untrusted_lm = scripted_lm(untrusted)
    program = pupa.make_program(untrusted_lm=untrusted_lm)
    assert [n for n, _ in program.named_predictors()] == [f"{p}.predict" for p in pupa.PREDICTORS]
    with dspy.context(lm=scripted_lm(trusted)):
        out = program(user_query=GOLD.user_query)
    assert seen == ["Write a cover letter for an applicant."]
    assert out.llm_response == "Here is a template cover letter." and "Jane Roe" in out.response
    assert program.deepcopy().untrusted_lm is untrusted_lm
