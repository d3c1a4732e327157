import copy

import pytest

from benchmarks.paper.retrieval import BM25Retriever, _read_abstracts, hotpotqa_corpus, wiki2017_corpus
from benchmarks.paper.tasks import hotpotqa


def test_corpus_holds_both_gold_paragraphs_of_every_shipped_question():
    docs = hotpotqa_corpus()
    titles = {t for t, _ in docs}
    assert len(docs) == 4956
    for row in hotpotqa.read_offline_rows():
        assert set(row["supporting_facts"]["title"]) <= titles
    assert all(text and not text.startswith(" ") for _, text in docs)


def test_bm25_finds_the_gold_paragraph_for_a_known_question(needs_bm25):
    from benchmarks.paper.retrieval import offline_retriever

    retriever = offline_retriever()
    question = "In what year was the university where Sergei Aleksandrovich Tokarev was a professor founded?"
    top = [p.title for p in retriever(question, 7)]
    assert "Sergei Aleksandrovich Tokarev" in top
    moscow = [p for p in retriever("Lomonosov Moscow State University founded 1755", 3)]
    assert moscow[0].title == "Moscow State University"
    assert moscow[0].formatted.startswith("Moscow State University | Lomonosov")


def test_bm25_ranks_by_relevance_and_handles_degenerate_queries(needs_bm25):
    r = BM25Retriever([("Paris", "Paris is the capital of France."), ("Berlin", "Berlin is the capital of Germany.")])
    assert [p.title for p in r("capital of Germany", 2)][0] == "Berlin"
    assert r("the of and", 2) == []  # stopwords only
    assert r("", 2) == []
    assert len(r("Germany", 10)) == 1  # documents with zero score are not returned
    with pytest.raises(ValueError):
        r("Germany", 0)
    assert copy.deepcopy(r) is r  # program copies share the index


def test_bm25_needs_documents(needs_bm25):
    with pytest.raises(ValueError, match="at least one document"):
        BM25Retriever([])


def test_wiki_abstracts_reader_and_missing_file(tmp_path):
    lines = ['{"title": "A", "text": ["One.", "Two."]}', "", '{"title": "B", "text": "Three."}']
    assert _read_abstracts(lines) == [("A", "One. Two."), ("B", "Three.")]
    from benchmarks.paper.common import DataUnavailableError

    with pytest.raises(DataUnavailableError, match="not found"):
        wiki2017_corpus(tmp_path / "missing.jsonl")
