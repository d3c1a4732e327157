"""HotpotQA (multi-hop question answering), as the GEPA paper ran it.

Program: two retrieval hops. Hop 1 retrieves with the question; ``summarize1`` condenses those passages;
``create_query_hop2`` writes the second query; hop 2 retrieves; ``summarize2`` condenses the new passages in the
light of the first summary; ``final_answer`` answers from both summaries. Metric: normalized exact match.
Feedback names the gold (supporting-fact) documents that retrieval found and missed, per predictor.
"""

from __future__ import annotations

from collections.abc import Sequence

import dspy

from benchmarks.paper.common import (
    DataUnavailableError,
    as_prediction,
    capped,
    exact_match,
    fmt_list,
    paper_split,
    pool_sizes,
    predictor_key,
    read_hotpotqa_rows,
    require_datasets,
    resolve_sizes,
)
from benchmarks.paper.tasks.multihop import MultiHopProgram, coverage, titles

__all__ = [
    "PAPER_SIZES",
    "PREDICTORS",
    "HotpotMultiHop",
    "example_from_row",
    "feedback_metric",
    "load_splits",
    "make_program",
    "metric",
    "read_offline_rows",
]

NAME = "hotpotqa"
PAPER_SIZES = (150, 300, 300)  # train, val, test (arXiv 2507.19457; gepa-artifact benchmark code)
HF_DATASET = ("hotpot_qa", "fullwiki")  # the paper used the *train* split of this config
PREDICTORS = ("summarize1", "create_query_hop2", "summarize2", "final_answer")


# --- data -------------------------------------------------------------------------------------------------------


read_offline_rows = read_hotpotqa_rows  # shared with the offline retrieval corpus, so read in common


def example_from_row(row: dict) -> dspy.Example:
    """A ``dspy.Example`` (input: ``question``) from a row in Hugging Face ``hotpot_qa`` layout."""
    sf = row["supporting_facts"]
    gold_titles = list(dict.fromkeys(sf["title"]))
    return dspy.Example(
        id=row["id"],
        question=row["question"],
        answer=row["answer"],
        gold_titles=gold_titles,
        type=row.get("type"),
    ).with_inputs("question")


def load_splits(
    offline: bool = True, seed: int = 0, sizes: Sequence[int] | None = None
) -> tuple[list[dspy.Example], list[dspy.Example], list[dspy.Example]]:
    """``(train, val, test)`` by the paper's procedure: cut the pool 40% test / 40% val / 20% train *in order*,
    then sample each part down with ``Random(seed + 1)`` (``seed=0`` is the paper's ``Random(1)``).

    Offline the pool is the 500 shipped dev-set rows (pools 100/200/200); ``sizes=None`` gives the paper's
    150/300/300 capped at those pools. Online it is Hugging Face ``hotpot_qa``/``fullwiki``, split ``train``.
    """
    if offline:
        rows = read_offline_rows()
        sizes = resolve_sizes(sizes, capped(PAPER_SIZES, pool_sizes(len(rows))))
    else:
        datasets = require_datasets()
        try:
            rows = datasets.load_dataset(*HF_DATASET, split="train")
        except Exception as exc:  # noqa: BLE001 - offline hub errors come in many types
            raise DataUnavailableError(f"could not load Hugging Face {HF_DATASET}: {exc}") from exc
        sizes = resolve_sizes(sizes, PAPER_SIZES)
    examples = [example_from_row(r) for r in rows]
    return paper_split(examples, sizes, seed=seed, shuffle=False)


# --- program ----------------------------------------------------------------------------------------------------


class Summarize1(dspy.Signature):
    """Summarize the passages, keeping every fact that helps answer the question."""

    question: str = dspy.InputField()
    passages: list[str] = dspy.InputField()
    summary: str = dspy.OutputField()


class CreateQueryHop2(dspy.Signature):
    """Write a search query that finds the information still needed to answer the question."""

    question: str = dspy.InputField()
    summary_1: str = dspy.InputField()
    query: str = dspy.OutputField()


class Summarize2(dspy.Signature):
    """Summarize the new passages in the light of the earlier context, keeping what helps answer the question."""

    question: str = dspy.InputField()
    context: str = dspy.InputField()
    passages: list[str] = dspy.InputField()
    summary: str = dspy.OutputField()


class FinalAnswer(dspy.Signature):
    """Answer the question from the two summaries with a short factoid answer."""

    question: str = dspy.InputField()
    summary_1: str = dspy.InputField()
    summary_2: str = dspy.InputField()
    answer: str = dspy.OutputField()


class HotpotMultiHop(MultiHopProgram):
    """Two-hop retrieve-summarize-answer program (4 predictors). ``retriever(query, k)`` returns passages with
    ``.title`` and ``.formatted``; ``None`` uses the offline BM25 index over the shipped paragraphs."""

    input_field = "question"

    def __init__(self, retriever=None, k: int = 7) -> None:
        super().__init__(Summarize1, CreateQueryHop2, Summarize2, retriever=retriever, k=k)
        self.final_answer = dspy.ChainOfThought(FinalAnswer)

    def forward(self, question: str) -> dspy.Prediction:
        hops = self.two_hops(question)
        answer = self.final_answer(question=question, summary_1=hops.summary_1, summary_2=hops.summary_2).answer
        return dspy.Prediction(
            answer=answer,
            summary_1=hops.summary_1,
            summary_2=hops.summary_2,
            query_hop2=hops.query_2,
            hop1_titles=titles(hops.hop1),
            hop2_titles=titles(hops.hop2),
        )


def make_program(retriever=None, k: int = 7) -> HotpotMultiHop:
    return HotpotMultiHop(retriever=retriever, k=k)


# --- metric and feedback ----------------------------------------------------------------------------------------


def metric(gold: dspy.Example, pred: dspy.Prediction, trace=None) -> float:
    """1.0 when the normalized answer equals the gold answer (exact match), else 0.0."""
    return 1.0 if exact_match(getattr(pred, "answer", None), gold.answer) else 0.0


def feedback_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
    """GEPA feedback metric: exact-match score plus text naming gold documents found and missed.

    With ``pred_name`` naming one of :data:`PREDICTORS` the feedback speaks to that predictor's job (e.g. for
    ``create_query_hop2``: which gold documents were still missing after hop 1, and whether its query found them).
    """
    score = metric(gold, pred)
    gold_titles = list(gold.gold_titles)
    answer = getattr(pred, "answer", None)
    hop1 = getattr(pred, "hop1_titles", None) or []
    hop2 = getattr(pred, "hop2_titles", None) or []
    after1, after2 = coverage(gold_titles, [hop1, hop2])
    found1, missed1 = after1.found, after1.missing
    found_all, missed_all = after2.found, after2.missing
    new2 = after2.new
    query = getattr(pred, "query_hop2", None)

    verdict = (
        f'The final answer "{answer}" is correct.'
        if score
        else f'The final answer "{answer}" is incorrect; the correct answer is "{gold.answer}".'
    )
    docs = f"The gold documents needed for this question are {fmt_list(gold_titles)}."
    hop1_txt = f"Hop 1 (the question as query) retrieved gold {fmt_list(found1)} and missed {fmt_list(missed1)}."
    hop2_txt = (
        f'The hop-2 query "{query}" retrieved {"gold " + fmt_list(new2) if new2 else "no new gold document"}'
        f"; after both hops {'all gold documents were found' if not missed_all else 'still missing: ' + fmt_list(missed_all)}."
    )
    key = predictor_key(pred_name)
    if key == "summarize1":
        parts = [
            docs,
            f"The passages you summarized contained gold {fmt_list(found1)}.",
            "Keep the facts from them that bear on the question"
            + (
                f", and name leads to the missing {fmt_list(missed1)} so the next query can find them."
                if missed1
                else "."
            ),
            verdict,
        ]
    elif key == "create_query_hop2":
        parts = [docs, hop1_txt]
        if missed1:
            parts.append(
                f'Your query "{query}" should have found the missing {fmt_list(missed1)}: it found '
                f"{fmt_list(new2) if new2 else 'none of them'}."
            )
        else:
            parts.append(
                f'Hop 1 had already found every gold document; your query "{query}" did not need to find more.'
            )
        parts.append(verdict)
    elif key == "summarize2":
        parts = [
            docs,
            f"Across both hops the passages contained gold {fmt_list(found_all)}"
            + (f" and missed {fmt_list(missed_all)}." if missed_all else "."),
            "Your summary, together with the first one, must carry the facts the final answer needs.",
            verdict,
        ]
    elif key == "final_answer":
        parts = [verdict]
        if not score:
            parts.append(
                "The summaries you received came from passages with gold "
                f"{fmt_list(found_all)}"
                + (f" (missing {fmt_list(missed_all)})." if missed_all else " (all gold found).")
            )
        parts.append("Answer with the short factoid span only, as it would appear in the gold answer.")
    else:
        parts = [verdict, docs, hop1_txt, hop2_txt]
    return as_prediction(score, " ".join(parts))
