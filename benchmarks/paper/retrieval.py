"""BM25 retrieval for the multi-hop tasks (HotpotQA, HoVer), on the ``bm25s`` library.

The paper retrieved with ``bm25s`` (k1=0.9, b=0.4, English Snowball stemmer, English stopwords) over the
Wikipedia 2017 abstracts. Offline, the corpus is the union of the paragraphs shipped with the HotpotQA subset
(each question's 10 distractor-setting paragraphs, 2 gold + 8 distractors).
"""

from __future__ import annotations

import functools
import json
import tarfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.paper.common import DataUnavailableError, read_hotpotqa_rows

__all__ = [
    "BM25Retriever",
    "Passage",
    "hotpotqa_corpus",
    "offline_retriever",
    "wiki2017_corpus",
]

# The corpus the paper (and DSPy's multi-hop tutorials) used: Wikipedia 2017 abstracts, one JSON object per line.
WIKI2017_REPO = "dspy/cache"
WIKI2017_FILE = "wiki.abstracts.2017.tar.gz"


@dataclass(frozen=True)
class Passage:
    title: str
    text: str
    score: float = 0.0

    @property
    def formatted(self) -> str:
        """``"title | text"``, the form the programs show the LM."""
        return f"{self.title} | {self.text}"


def _import_bm25():
    try:
        import bm25s  # noqa: PLC0415
        import Stemmer  # noqa: PLC0415  (PyStemmer)
    except ImportError as exc:
        raise ImportError(
            "BM25 retrieval needs `bm25s` and `PyStemmer`: pip install 'dspy-gepa[benchmarks]' "
            "(or pip install bm25s PyStemmer)"
        ) from exc
    return bm25s, Stemmer


class BM25Retriever:
    """A BM25 index over ``(title, text)`` documents; ``search(query, k)`` returns the top ``k`` passages.

    Defaults follow the paper: k1=0.9, b=0.4, English stemming and stopwords. Documents are indexed as
    ``"title | text"``. Safe to call from several threads (tokenization, which uses a stateful stemmer, is
    serialized). Copies of a program share one index: ``copy.deepcopy`` returns the same object.
    """

    def __init__(
        self,
        docs: Iterable[tuple[str, str]],
        *,
        k1: float = 0.9,
        b: float = 0.4,
        stemmer_language: str | None = "english",
        stopwords: str | None = "en",
    ) -> None:
        bm25s, Stemmer = _import_bm25()
        self.titles: list[str] = []
        self.texts: list[str] = []
        for title, text in docs:
            self.titles.append(str(title))
            self.texts.append(str(text))
        if not self.titles:
            raise ValueError("BM25Retriever needs at least one document")
        self._bm25s = bm25s
        self._stopwords = stopwords
        self._stemmer = Stemmer.Stemmer(stemmer_language) if stemmer_language else None
        self._lock = threading.Lock()
        corpus = [f"{t} | {x}" for t, x in zip(self.titles, self.texts, strict=True)]
        tokens = bm25s.tokenize(corpus, stopwords=stopwords, stemmer=self._stemmer, show_progress=False)
        self._index = bm25s.BM25(k1=k1, b=b)
        self._index.index(tokens, show_progress=False)

    def __len__(self) -> int:
        return len(self.titles)

    def __deepcopy__(self, memo: dict) -> BM25Retriever:
        return self

    def search(self, query: str, k: int = 7) -> list[Passage]:
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        if not isinstance(query, str) or not query.strip():
            return []
        k = min(k, len(self.titles))
        with self._lock:
            tokens = self._bm25s.tokenize(
                [query], stopwords=self._stopwords, stemmer=self._stemmer, show_progress=False
            )
            if not tokens.ids or not tokens.ids[0]:
                return []  # every query word is a stopword or unknown
            ids, scores = self._index.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [
            Passage(self.titles[i], self.texts[i], float(s))
            for i, s in zip(ids[0].tolist(), scores[0].tolist(), strict=True)
            if s > 0
        ]

    __call__ = search


def hotpotqa_corpus(rows: Iterable[dict] | None = None) -> list[tuple[str, str]]:
    """``(title, text)`` for every distinct paragraph in the shipped HotpotQA subset's contexts."""
    if rows is None:
        rows = read_hotpotqa_rows()
    seen: set[tuple[str, str]] = set()
    docs: list[tuple[str, str]] = []
    for row in rows:
        ctx = row["context"]
        for title, sentences in zip(ctx["title"], ctx["sentences"], strict=True):
            doc = (title, "".join(sentences).strip())
            if doc not in seen:
                seen.add(doc)
                docs.append(doc)
    return docs


_OFFLINE_LOCK = threading.Lock()


def offline_retriever() -> BM25Retriever:
    """The shared BM25 index over :func:`hotpotqa_corpus` (built once per process, about a second)."""
    with _OFFLINE_LOCK:  # programs evaluated in several threads ask for it at once
        return _build_offline_retriever()


@functools.lru_cache(maxsize=1)
def _build_offline_retriever() -> BM25Retriever:
    return BM25Retriever(hotpotqa_corpus())


def wiki2017_corpus(path: str | Path | None = None) -> list[tuple[str, str]]:
    """``(title, abstract)`` pairs of the Wikipedia 2017 abstracts the paper retrieved from (about 5 M).

    ``path`` is a local ``wiki.abstracts.2017.jsonl`` (or the ``.tar.gz`` holding it); without it the archive
    is fetched from the Hugging Face Hub (``dspy/cache``), which needs ``huggingface_hub`` and network access.
    Each line is ``{"title": ..., "text": [sentences]}`` (or ``"text"`` as one string).
    """
    if path is None:
        try:
            from huggingface_hub import hf_hub_download  # noqa: PLC0415
        except ImportError as exc:
            raise DataUnavailableError(
                "the Wikipedia 2017 abstracts need `huggingface_hub` and network access; or pass a local path"
            ) from exc
        try:
            path = hf_hub_download(WIKI2017_REPO, WIKI2017_FILE)
        except Exception as exc:  # noqa: BLE001 - any hub/network failure
            raise DataUnavailableError(f"could not download {WIKI2017_REPO}/{WIKI2017_FILE}: {exc}") from exc
    path = Path(path)
    if not path.exists():
        raise DataUnavailableError(f"corpus file not found: {path}")
    if path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path) as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith(".jsonl")), None)
            if member is None:
                raise DataUnavailableError(f"{path} holds no .jsonl file")
            handle = tar.extractfile(member)
            assert handle is not None
            return _read_abstracts(line.decode("utf-8") for line in handle)
    with open(path, encoding="utf-8") as f:
        return _read_abstracts(f)


def _read_abstracts(lines: Iterable[str]) -> list[tuple[str, str]]:
    docs = []
    for line in lines:
        if not line.strip():
            continue
        obj = json.loads(line)
        text = obj["text"]
        if isinstance(text, Sequence) and not isinstance(text, str):
            text = " ".join(text)
        docs.append((obj["title"], text))
    return docs
