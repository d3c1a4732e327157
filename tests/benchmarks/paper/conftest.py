import pytest

from benchmarks.paper.retrieval import Passage


class ListRetriever:
    """A fake retriever: returns the passages whose title is in the query's scripted list (or the first k)."""

    def __init__(self, docs, routes=None):
        self.docs = docs  # {title: text}
        self.routes = routes or {}  # query -> [titles]
        self.queries = []

    def __call__(self, query, k=7):
        self.queries.append(query)
        titles = self.routes.get(query, list(self.docs))[:k]
        return [Passage(t, self.docs[t]) for t in titles]


@pytest.fixture
def list_retriever():
    return ListRetriever


@pytest.fixture
def needs_bm25():
    pytest.importorskip("bm25s", reason="BM25 needs the benchmarks extra: pip install -e '.[benchmarks]'")
    pytest.importorskip("Stemmer", reason="BM25 needs the benchmarks extra: pip install -e '.[benchmarks]'")


class OfflineHub:
    """Stands in for the ``datasets`` module when the Hub is unreachable: records calls, raises."""

    def __init__(self):
        self.calls = []

    def load_dataset(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        raise ConnectionError("no network")


@pytest.fixture
def offline_hub():
    return OfflineHub()
