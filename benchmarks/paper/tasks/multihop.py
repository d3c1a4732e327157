"""The multi-hop retrieval skeleton HotpotQA and HoVer share, and the gold-document bookkeeping of their feedback.

Both programs start the same way: retrieve with the input text, ``summarize1`` the passages, ``create_query_hop2``
writes the next query, retrieve again, ``summarize2`` the new passages in the light of the first summary. HotpotQA
then answers (``final_answer``); HoVer writes a third query (``create_query_hop3``) and retrieves once more. Each
task module keeps its own signatures (their instructions speak of a question or a claim), its last step, its
prediction fields, metric and feedback text; this module holds what is the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import dspy

from benchmarks.paper.common import Shared, normalize_title
from benchmarks.paper.retrieval import offline_retriever

__all__ = ["HopCoverage", "MultiHopProgram", "TwoHops", "coverage", "missing", "titles"]


@dataclass(frozen=True)
class TwoHops:
    """What the shared first two hops produced: each hop's passages, the summaries and the hop-2 query."""

    hop1: list[Any]
    summary_1: str
    query_2: str
    hop2: list[Any]
    summary_2: str


class MultiHopProgram(dspy.Module):
    """The first two hops (predictors ``summarize1``, ``create_query_hop2``, ``summarize2``).

    A task subclasses it, names its input field in ``input_field``, passes its three signatures to ``__init__``,
    then adds its last predictor: GEPA's component names follow the order of the predictor attributes.
    ``retriever(query, k)`` returns passages with ``.title`` and ``.formatted``; ``None`` uses the offline BM25
    index over the shipped paragraphs. Copies of a program share the retriever.
    """

    input_field: ClassVar[str]

    def __init__(
        self,
        summarize1: type[dspy.Signature],
        create_query_hop2: type[dspy.Signature],
        summarize2: type[dspy.Signature],
        *,
        retriever=None,
        k: int = 7,
    ) -> None:
        super().__init__()
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        self.k = k
        self._retriever = Shared(retriever)
        self.summarize1 = dspy.ChainOfThought(summarize1)
        self.create_query_hop2 = dspy.ChainOfThought(create_query_hop2)
        self.summarize2 = dspy.ChainOfThought(summarize2)

    @property
    def retriever(self):
        if self._retriever.value is None:
            self._retriever.value = offline_retriever()
        return self._retriever.value

    def two_hops(self, text: str) -> TwoHops:
        """Retrieve with ``text``, summarize, write the hop-2 query, retrieve, summarize again."""
        given = {self.input_field: text}
        hop1 = self.retriever(text, self.k)
        summary_1 = self.summarize1(**given, passages=[p.formatted for p in hop1]).summary
        query_2 = self.create_query_hop2(**given, summary_1=summary_1).query
        hop2 = self.retriever(query_2, self.k)
        summary_2 = self.summarize2(**given, context=summary_1, passages=[p.formatted for p in hop2]).summary
        return TwoHops(hop1=hop1, summary_1=summary_1, query_2=query_2, hop2=hop2, summary_2=summary_2)


def titles(passages: Iterable[Any]) -> list[str]:
    return [p.title for p in passages]


def missing(gold_titles: Sequence[str], retrieved: Iterable[str] | None) -> list[str]:
    """The gold titles (in gold order) that are not among ``retrieved``; titles compare normalized."""
    got = {normalize_title(t) for t in retrieved or ()}
    return [t for t in gold_titles if normalize_title(t) not in got]


@dataclass(frozen=True)
class HopCoverage:
    """The gold titles after one hop, each list in gold order: ``new`` first found by this hop, ``found`` by this
    hop or an earlier one, ``missing`` by none of them yet."""

    new: list[str]
    found: list[str]
    missing: list[str]


def coverage(gold_titles: Sequence[str], hops: Iterable[Sequence[str]]) -> list[HopCoverage]:
    """Per hop (a list of retrieved titles), which gold documents the retrieval has found so far."""
    out: list[HopCoverage] = []
    seen: list[str] = []
    before = list(gold_titles)
    for hop in hops:
        seen += hop
        after = missing(gold_titles, seen)
        out.append(
            HopCoverage(
                new=[t for t in before if t not in after],
                found=[t for t in gold_titles if t not in after],
                missing=after,
            )
        )
        before = after
    return out
