"""Shared helpers for the paper tasks: data locations, the paper's split procedure, text normalization."""

from __future__ import annotations

import gzip
import json
import random
import re
import string
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dspy

DATA_DIR = Path(__file__).resolve().parent / "data"
HOTPOTQA_FILE = ("hotpotqa", "hotpotqa_sample_500.jsonl.gz")

__all__ = [
    "DATA_DIR",
    "HOTPOTQA_FILE",
    "DataUnavailableError",
    "Shared",
    "as_prediction",
    "capped",
    "data_path",
    "exact_match",
    "fmt_list",
    "normalize_answer",
    "normalize_title",
    "open_text",
    "paper_split",
    "pool_sizes",
    "predictor_key",
    "read_hotpotqa_rows",
    "require_datasets",
    "resolve_sizes",
]


class DataUnavailableError(RuntimeError):
    """A data set or corpus cannot be loaded here (offline, or an optional dependency is missing)."""


class Shared:
    """Holds an object that every copy of a program must share (a retriever, an LM).

    ``dspy.Module.deepcopy`` deep-copies attributes; GEPA copies the student once per candidate. A
    BM25 index or an LM (whose ``history`` feeds cost accounting) must not be duplicated, so this
    holder returns itself from ``copy.deepcopy``.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __deepcopy__(self, memo: dict) -> Shared:
        return self

    def __repr__(self) -> str:
        return f"Shared({self.value!r})"


def data_path(*parts: str) -> Path:
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        raise DataUnavailableError(f"shipped data file not found: {path} (is the checkout complete?)")
    return path


def open_text(path: Path):
    """Open a shipped data file as text, transparently decompressing ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_hotpotqa_rows() -> list[dict]:
    """The 500 shipped HotpotQA rows (official dev/validation set, distractor setting), in file order.

    Two readers share them: the HotpotQA task (its questions) and the offline retrieval corpus of HotpotQA and HoVer
    (their paragraphs), which is why they are read here and not in either.
    """
    with open_text(data_path(*HOTPOTQA_FILE)) as f:
        return [json.loads(line) for line in f if line.strip()]


def require_datasets():
    """Import Hugging Face ``datasets`` for the online loaders, or fail with an actionable message."""
    try:
        import datasets  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DataUnavailableError(
            "online loading needs the Hugging Face `datasets` package and network access to the Hub; "
            "install it (`pip install datasets`) or use offline=True for the subsets shipped in benchmarks/paper/data"
        ) from exc
    return datasets


# --- the paper's split procedure --------------------------------------------------------------------------------

SplitSizes = tuple[int, int, int]


def resolve_sizes(sizes: Sequence[int] | None, default: SplitSizes) -> SplitSizes:
    """Validate ``sizes`` = (train, val, test); ``None`` gives ``default``."""
    if sizes is None:
        return default
    if len(sizes) != 3:
        raise ValueError(f"sizes must be (train, val, test), got {sizes!r}")
    out = tuple(int(s) for s in sizes)
    if any(s < 0 for s in out):
        raise ValueError(f"sizes must be non-negative, got {sizes!r}")
    return out  # type: ignore[return-value]


def _sample(items: list, n: int, rng: random.Random, what: str) -> list:
    if n > len(items):
        raise ValueError(f"requested {n} {what} examples but the pool for that split has only {len(items)}")
    if n == len(items):
        return list(items)
    return rng.sample(items, n)


def paper_split(
    pool: Sequence[Any],
    sizes: SplitSizes,
    *,
    seed: int = 0,
    shuffle: bool = False,
    fractions: tuple[float, float] = (0.4, 0.4),
) -> tuple[list, list, list]:
    """Split ``pool`` the way the GEPA paper's benchmark code did (HotpotQA, HoVer).

    The pool is (optionally) shuffled with ``Random(seed)``, then cut *in order*: the first 40% is the test
    pool, the next 40% the validation pool, the last 20% the training pool. Each pool is then sampled down to
    its size with ``Random(seed + 1)`` (kept whole, in order, when the size equals the pool). With ``seed=0``
    these are the paper's seeds: ``Random(0)`` for the shuffle and ``Random(1)`` for the sampling.
    Returns ``(train, val, test)``.
    """
    items = list(pool)
    if shuffle:
        random.Random(seed).shuffle(items)
    n_test = int(len(items) * fractions[0])
    n_val = int(len(items) * fractions[1])
    test_pool, val_pool, train_pool = items[:n_test], items[n_test : n_test + n_val], items[n_test + n_val :]
    train_n, val_n, test_n = sizes
    rng = random.Random(seed + 1)
    train = _sample(train_pool, train_n, rng, "train")
    val = _sample(val_pool, val_n, rng, "val")
    test = _sample(test_pool, test_n, rng, "test")
    return train, val, test


def capped(sizes: SplitSizes, pool_sizes: SplitSizes) -> SplitSizes:
    """The paper's sizes, each capped at what the (smaller) offline pool holds."""
    return tuple(min(s, p) for s, p in zip(sizes, pool_sizes, strict=True))  # type: ignore[return-value]


def pool_sizes(n: int, fractions: tuple[float, float] = (0.4, 0.4)) -> SplitSizes:
    """(train, val, test) pool sizes that :func:`paper_split` carves out of ``n`` items."""
    n_test = int(n * fractions[0])
    n_val = int(n * fractions[1])
    return (n - n_test - n_val, n_val, n_test)


# --- text normalization -----------------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD/HotpotQA answer normalization: lower-case, drop punctuation and articles, collapse spaces."""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str | None, gold: str | Sequence[str]) -> bool:
    """Normalized exact match against one gold answer or any of several."""
    if prediction is None:
        return False
    golds = [gold] if isinstance(gold, str) else list(gold)
    pred = normalize_answer(prediction)
    return any(pred == normalize_answer(g) for g in golds)


def normalize_title(title: str) -> str:
    """Comparable form of a Wikipedia title: NFC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFC", str(title)).casefold().split())


def as_prediction(score: float, feedback: str) -> dspy.Prediction:
    """The ``ScoreWithFeedback`` shape GEPA's feedback metrics return."""
    return dspy.Prediction(score=float(score), feedback=feedback)


def predictor_key(pred_name: str | None) -> str | None:
    """``"summarize1.predict"`` → ``"summarize1"`` (ChainOfThought wraps its Predict as ``.predict``)."""
    if not pred_name:
        return None
    return pred_name.split(".", 1)[0]


def fmt_list(items: Sequence[str], empty: str = "none") -> str:
    return ", ".join(f'"{x}"' for x in items) if items else empty
