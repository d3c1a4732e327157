"""HoVer (many-hop claim retrieval), as the GEPA paper ran it.

Program: three retrieval hops. Hop 1 retrieves with the claim; ``summarize1`` condenses the passages;
``create_query_hop2`` writes the second query; ``summarize2`` condenses hop 2's passages; ``create_query_hop3``
writes the third query. The output is every retrieved document. Score: 1.0 when every gold (supporting-fact)
title is among the retrieved documents. Feedback: per hop, the gold documents found and missed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import dspy

from benchmarks.paper.common import (
    DataUnavailableError,
    as_prediction,
    capped,
    data_path,
    fmt_list,
    paper_split,
    pool_sizes,
    predictor_key,
    require_datasets,
    resolve_sizes,
)
from benchmarks.paper.tasks.multihop import MultiHopProgram, coverage, missing, titles

__all__ = [
    "PAPER_SIZES",
    "PREDICTORS",
    "HoverMultiHop",
    "example_from_row",
    "feedback_metric",
    "load_splits",
    "make_program",
    "metric",
    "read_offline_rows",
]

NAME = "hover"
PAPER_SIZES = (150, 300, 300)  # train, val, test (arXiv 2507.19457; gepa-artifact benchmark code)
OFFLINE_FILE = ("hover", "hover_dev_in_hotpotqa_corpus.json")
HF_DATASET = "hover"  # the paper used its *train* split, 3-hop claims only
PREDICTORS = ("summarize1", "create_query_hop2", "summarize2", "create_query_hop3")


# --- data -------------------------------------------------------------------------------------------------------


def read_offline_rows() -> list[dict]:
    """The 66 shipped HoVer dev claims whose gold titles are all in the offline (HotpotQA-paragraph) corpus."""
    with open(data_path(*OFFLINE_FILE), encoding="utf-8") as f:
        return json.load(f)


def _titles(supporting_facts) -> list[str]:
    """Distinct gold titles, in order, from either the GitHub (``[title, sent]``) or HF (``{key, value}``) form."""
    titles = []
    for fact in supporting_facts:
        titles.append(fact["key"] if isinstance(fact, dict) else fact[0])
    return list(dict.fromkeys(titles))


def example_from_row(row: dict) -> dspy.Example:
    """A ``dspy.Example`` (input: ``claim``) with ``gold_titles`` (the distinct supporting-fact titles)."""
    return dspy.Example(
        id=row.get("uid", row.get("id")),
        claim=row["claim"],
        gold_titles=_titles(row["supporting_facts"]),
        label=row.get("label"),
    ).with_inputs("claim")


def load_splits(
    offline: bool = True,
    seed: int = 0,
    sizes: Sequence[int] | None = None,
    *,
    num_titles: int | None = 3,
) -> tuple[list[dspy.Example], list[dspy.Example], list[dspy.Example]]:
    """``(train, val, test)`` by the paper's procedure: keep claims with exactly ``num_titles`` distinct gold
    titles (3, as the paper; ``None`` keeps all), shuffle with ``Random(seed)``, cut 40% test / 40% val / 20%
    train, sample each part with ``Random(seed + 1)``. ``seed=0`` is the paper's ``Random(0)``/``Random(1)``.

    Offline the pool is tiny: 33 three-title dev claims (66 with ``num_titles=None``) whose gold documents are
    all in the shipped corpus; ``sizes=None`` gives the paper's 150/300/300 capped at the pools (7/13/13).
    Online it is Hugging Face ``hover``, split ``train``.
    """
    if offline:
        rows = read_offline_rows()
    else:
        datasets = require_datasets()
        try:
            rows = datasets.load_dataset(HF_DATASET, split="train", trust_remote_code=True)
        except Exception as exc:  # noqa: BLE001
            raise DataUnavailableError(f"could not load Hugging Face {HF_DATASET!r}: {exc}") from exc
    examples = [example_from_row(r) for r in rows]
    if num_titles is not None:
        examples = [ex for ex in examples if len(ex.gold_titles) == num_titles]
    if not examples:
        raise ValueError(f"no HoVer claims with {num_titles} distinct gold titles")
    default = capped(PAPER_SIZES, pool_sizes(len(examples))) if offline else PAPER_SIZES
    return paper_split(examples, resolve_sizes(sizes, default), seed=seed, shuffle=True)


# --- program ----------------------------------------------------------------------------------------------------


class Summarize1(dspy.Signature):
    """Summarize the passages, keeping every fact relevant to verifying the claim."""

    claim: str = dspy.InputField()
    passages: list[str] = dspy.InputField()
    summary: str = dspy.OutputField()


class CreateQueryHop2(dspy.Signature):
    """Write a search query for the documents still needed to verify the claim."""

    claim: str = dspy.InputField()
    summary_1: str = dspy.InputField()
    query: str = dspy.OutputField()


class Summarize2(dspy.Signature):
    """Summarize the new passages in the light of the earlier context, keeping facts relevant to the claim."""

    claim: str = dspy.InputField()
    context: str = dspy.InputField()
    passages: list[str] = dspy.InputField()
    summary: str = dspy.OutputField()


class CreateQueryHop3(dspy.Signature):
    """Write a search query for the documents still needed to verify the claim."""

    claim: str = dspy.InputField()
    summary_1: str = dspy.InputField()
    summary_2: str = dspy.InputField()
    query: str = dspy.OutputField()


class HoverMultiHop(MultiHopProgram):
    """Three-hop retrieval program (4 predictors); returns all retrieved titles, per hop and overall."""

    input_field = "claim"

    def __init__(self, retriever=None, k: int = 7) -> None:
        super().__init__(Summarize1, CreateQueryHop2, Summarize2, retriever=retriever, k=k)
        self.create_query_hop3 = dspy.ChainOfThought(CreateQueryHop3)

    def forward(self, claim: str) -> dspy.Prediction:
        hops = self.two_hops(claim)
        query_3 = self.create_query_hop3(claim=claim, summary_1=hops.summary_1, summary_2=hops.summary_2).query
        hop3 = self.retriever(query_3, self.k)
        hop_titles = [titles(hop) for hop in (hops.hop1, hops.hop2, hop3)]
        return dspy.Prediction(
            titles=list(dict.fromkeys(t for hop in hop_titles for t in hop)),
            hop_titles=hop_titles,
            queries=[claim, hops.query_2, query_3],
            summary_1=hops.summary_1,
            summary_2=hops.summary_2,
        )


def make_program(retriever=None, k: int = 7) -> HoverMultiHop:
    return HoverMultiHop(retriever=retriever, k=k)


# --- metric and feedback ----------------------------------------------------------------------------------------


def metric(gold: dspy.Example, pred: dspy.Prediction, trace=None) -> float:
    """1.0 when every gold title is among ``pred.titles``, else 0.0."""
    return 0.0 if missing(gold.gold_titles, getattr(pred, "titles", None)) else 1.0


def feedback_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
    """GEPA feedback metric: the retrieval score plus, per hop, the gold documents found and missed."""
    score = metric(gold, pred)
    gold_titles = list(gold.gold_titles)
    hops = list(getattr(pred, "hop_titles", None) or [])
    hops += [[]] * (3 - len(hops))
    queries = list(getattr(pred, "queries", None) or [gold.claim, None, None])
    queries += [None] * (3 - len(queries))

    after_hop = coverage(gold_titles, hops)
    missing_before = [gold_titles, *(c.missing for c in after_hop)]  # missing before hop i+1
    lines = []
    for i in range(3):
        new, after = after_hop[i].new, after_hop[i].missing
        q = "the claim" if i == 0 else f'query "{queries[i]}"'
        lines.append(
            f"Hop {i + 1} ({q}) found {fmt_list(new) if new else 'no new gold document'}; "
            f"still missing after it: {fmt_list(after)}."
        )
    docs = f"The gold documents for this claim are {fmt_list(gold_titles)}."
    outcome = (
        "All gold documents were retrieved."
        if score
        else f"Retrieval failed: missing {fmt_list(missing_before[3])} after three hops."
    )
    key = predictor_key(pred_name)
    if key in ("create_query_hop2", "create_query_hop3"):
        i = 1 if key == "create_query_hop2" else 2
        before = missing_before[i]
        parts = [docs, *lines[:i]]
        if before:
            parts.append(
                f'Your query "{queries[i]}" needed to find {fmt_list(before)}; {lines[i][0].lower() + lines[i][1:]}'
            )
        else:
            parts.append("Every gold document had already been found before your query.")
        parts.append(outcome)
    elif key in ("summarize1", "summarize2"):
        i = 0 if key == "summarize1" else 1
        after = missing_before[i + 1]
        parts = [docs, lines[i]]
        if after:
            parts.append(
                f"Your summary should name the entities that lead to the missing {fmt_list(after)}, "
                "so the next query can retrieve them."
            )
        parts.append(outcome)
    else:
        parts = [docs, *lines, outcome]
    return as_prediction(score, " ".join(parts))
