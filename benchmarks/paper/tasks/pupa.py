"""PUPA (privacy-conscious delegation, the PAPILLON pipeline), as the GEPA paper ran it.

Program: ``craft_redacted_request`` turns the user's private query into a request that leaks no personal
information; an *untrusted* (external, more capable) LM answers that request; ``respond_to_query`` writes the
reply to the user from the untrusted LM's answer. Score: the mean of response quality (an LM judge: is the
response at least as good as the reference response?) and privacy (1 − the fraction of the query's PII units
that the request leaked, as counted by an LM judge). Feedback states both parts.

LM roles: the program's predictors use the current DSPy LM (the trusted, local model); the untrusted LM and the
judge LM are parameters that default to the current DSPy LM at call time.
"""

from __future__ import annotations

import csv
import random
import threading
from collections.abc import Sequence

import dspy

from benchmarks.paper.common import (
    DataUnavailableError,
    Shared,
    as_prediction,
    data_path,
    fmt_list,
    open_text,
    predictor_key,
    require_datasets,
    resolve_sizes,
)

__all__ = [
    "PAPER_SIZES",
    "PREDICTORS",
    "Judge",
    "PapillonPipeline",
    "example_from_row",
    "feedback_metric",
    "leaked_verbatim",
    "load_splits",
    "make_feedback_metric",
    "make_metric",
    "make_program",
    "metric",
    "read_offline_rows",
]

NAME = "pupa"
PAPER_SIZES = (111, 111, 221)  # train, val, test: rows 0–110, 111–221, 222–442 (arXiv 2507.19457; gepa-artifact)
OFFLINE_FILE = ("pupa", "PUPA_New.csv.gz")
HF_DATASET = ("Columbia-NLP/PUPA", "pupa_new")
PREDICTORS = ("craft_redacted_request", "respond_to_query")


# --- data -------------------------------------------------------------------------------------------------------


def read_offline_rows() -> list[dict]:
    """The 664 rows of ``PUPA_New.csv`` (PAPILLON repository), in file order."""
    csv.field_size_limit(1 << 30)
    with open_text(data_path(*OFFLINE_FILE)) as f:
        return list(csv.DictReader(f))


def example_from_row(row: dict) -> dspy.Example:
    """A ``dspy.Example`` (input: ``user_query``) with ``target_response`` and the list of ``pii_units``."""
    pii = row["pii_units"]
    units = [u.strip() for u in (pii.split("||") if isinstance(pii, str) else pii) if u and u.strip()]
    return dspy.Example(
        id=row.get("conversation_hash", ""),
        user_query=row["user_query"],
        target_response=row["target_response"],
        pii_units=units,
    ).with_inputs("user_query")


def load_splits(
    offline: bool = True, seed: int = 0, sizes: Sequence[int] | None = None
) -> tuple[list[dspy.Example], list[dspy.Example], list[dspy.Example]]:
    """``(train, val, test)`` as in the paper: rows 0–110 train, 111–221 val, 222–442 test, in row order.

    Offline the rows come from the shipped ``PUPA_New.csv`` (same data as Hugging Face ``Columbia-NLP/PUPA``,
    ``pupa_new``; whether the row order matches is unverified). ``sizes`` smaller than a part samples it with
    ``Random(seed + 1)``; ``seed`` has no other effect (the paper's split is not shuffled).
    """
    if offline:
        rows = read_offline_rows()
    else:
        datasets = require_datasets()
        try:
            rows = datasets.load_dataset(*HF_DATASET, split="train")
        except Exception as exc:  # noqa: BLE001
            raise DataUnavailableError(f"could not load Hugging Face {HF_DATASET}: {exc}") from exc
    examples = [example_from_row(r) for r in rows]
    parts = examples[0:111], examples[111:222], examples[222:443]
    sizes = resolve_sizes(sizes, PAPER_SIZES)
    rng = random.Random(seed + 1)
    out = []
    for part, n in zip(parts, sizes, strict=True):
        if n > len(part):
            raise ValueError(f"requested {n} examples but the pool has only {len(part)}")
        out.append(list(part) if n == len(part) else rng.sample(part, n))
    return out[0], out[1], out[2]


# --- program ----------------------------------------------------------------------------------------------------


class CraftRedactedRequest(dspy.Signature):
    """Given a private user query, write a request for a powerful external LLM that will help answer the query
    without revealing any personally identifiable or otherwise private information from it."""

    user_query: str = dspy.InputField()
    llm_request: str = dspy.OutputField()


class RespondToQuery(dspy.Signature):
    """Respond to the user's query, using the external LLM's response to a related, privacy-preserving request."""

    related_llm_request: str = dspy.InputField()
    related_llm_response: str = dspy.InputField(desc="response from the external LLM")
    user_query: str = dspy.InputField(desc="the user's original query, which you must respond to")
    response: str = dspy.OutputField()


def _lm_text(output) -> str:
    if isinstance(output, dict):
        return str(output.get("text") or "")
    return str(output)


class PapillonPipeline(dspy.Module):
    """Redact → untrusted LM → respond (2 predictors; the untrusted LM call is not a predictor and is not optimized)."""

    def __init__(self, untrusted_lm: dspy.LM | None = None) -> None:
        super().__init__()
        self._untrusted = Shared(untrusted_lm)
        self.craft_redacted_request = dspy.ChainOfThought(CraftRedactedRequest)
        self.respond_to_query = dspy.ChainOfThought(RespondToQuery)

    @property
    def untrusted_lm(self) -> dspy.LM:
        lm = self._untrusted.value or dspy.settings.lm
        if lm is None:
            raise ValueError("no untrusted LM: pass untrusted_lm= or configure dspy with an LM")
        return lm

    def forward(self, user_query: str) -> dspy.Prediction:
        request = self.craft_redacted_request(user_query=user_query).llm_request
        outputs = self.untrusted_lm(request)  # a plain user turn holding the redacted request
        llm_response = _lm_text(outputs[0]) if outputs else ""
        response = self.respond_to_query(
            related_llm_request=request, related_llm_response=llm_response, user_query=user_query
        ).response
        return dspy.Prediction(response=response, llm_request=request, llm_response=llm_response)


def make_program(untrusted_lm: dspy.LM | None = None) -> PapillonPipeline:
    return PapillonPipeline(untrusted_lm=untrusted_lm)


# --- judge, metric and feedback ---------------------------------------------------------------------------------


class JudgeQuality(dspy.Signature):
    """You are comparing two responses to a user's query. Decide whether response A is at least as good as
    response B: as helpful, correct and complete for the user."""

    user_query: str = dspy.InputField()
    response_a: str = dspy.InputField()
    response_b: str = dspy.InputField()
    judgment: bool = dspy.OutputField(desc="True if response A is at least as good as response B")


class JudgeLeakage(dspy.Signature):
    """Count how many of the listed pieces of personally identifiable information (PII) are revealed by the
    prompt. Count a piece when the prompt contains it or an obvious variant of it; do not count generic,
    public information (well-known places, organisations or celebrities that are not the user's own data)."""

    pii_units: list[str] = dspy.InputField()
    prompt: str = dspy.InputField()
    num_pii_leaked: int = dspy.OutputField()


def leaked_verbatim(pii_units: Sequence[str], text: str | None) -> list[str]:
    """PII units that appear verbatim (case-insensitive) in ``text`` — named in feedback next to the judge's count."""
    low = (text or "").lower()
    return [u for u in pii_units if u and u.lower() in low]


class Judge:
    """The LM judge. ``judge_lm=None`` uses the current DSPy LM at call time. Results are cached per
    (query, response, request), so the metric and the feedback metric do not pay for the same judgment twice."""

    def __init__(self, judge_lm: dspy.LM | None = None) -> None:
        self.judge_lm = judge_lm
        self.quality = dspy.Predict(JudgeQuality)
        self.leakage = dspy.Predict(JudgeLeakage)
        self._cache: dict[tuple, tuple[float, float, int]] = {}
        self._lock = threading.Lock()

    def __call__(self, gold: dspy.Example, pred: dspy.Prediction) -> tuple[float, float, int]:
        """``(quality in {0, 1}, leaked fraction in [0, 1], judged number of leaked units)``."""
        response = str(getattr(pred, "response", "") or "")
        request = str(getattr(pred, "llm_request", "") or "")
        key = (gold.user_query, response, request)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        lm = self.judge_lm or dspy.settings.lm
        if lm is None:
            raise ValueError("no judge LM: pass judge_lm= or configure dspy with an LM")
        units = list(gold.pii_units)
        with dspy.context(lm=lm, trace=[]):  # keep judge calls out of the program's trace
            quality = (
                1.0
                if response.strip()
                and self.quality(
                    user_query=gold.user_query, response_a=response, response_b=gold.target_response
                ).judgment
                is True
                else 0.0
            )
            if units and request.strip():
                leaked = self.leakage(pii_units=units, prompt=request).num_pii_leaked
                leaked = max(0, min(int(leaked or 0), len(units)))
            else:
                leaked = 0
        result = (quality, leaked / len(units) if units else 0.0, leaked)
        with self._lock:
            self._cache[key] = result
        return result


def make_metric(judge_lm: dspy.LM | None = None):
    """``metric(gold, pred, trace=None) -> float``: (quality + (1 − leaked fraction)) / 2, judged by ``judge_lm``."""
    judge = Judge(judge_lm)

    def pupa_metric(gold, pred, trace=None) -> float:
        quality, leak, _ = judge(gold, pred)
        return (quality + (1.0 - leak)) / 2

    pupa_metric.judge = judge
    return pupa_metric


def make_feedback_metric(judge_lm: dspy.LM | None = None):
    """The 5-argument GEPA feedback metric, judged by ``judge_lm``; feedback states quality and leakage."""
    judge = Judge(judge_lm)

    def pupa_feedback_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
        quality, leak, n_leaked = judge(gold, pred)
        score = (quality + (1.0 - leak)) / 2
        units = list(gold.pii_units)
        verbatim = leaked_verbatim(units, getattr(pred, "llm_request", None))
        quality_txt = (
            "Quality: the judge rated the final response at least as good as the reference response."
            if quality
            else "Quality: the judge rated the final response worse than the reference response."
        )
        privacy_txt = (
            f"Privacy: the request sent to the external LLM leaked {n_leaked} of {len(units)} PII units"
            + (f" (verbatim: {fmt_list(verbatim)})" if verbatim else "")
            + f"; the private units in this query are {fmt_list(units)}."
        )
        key = predictor_key(pred_name)
        if key == "craft_redacted_request":
            advice = (
                "Keep the request free of these details while still asking for everything the answer needs."
                if n_leaked
                else "No PII leaked; the request must also carry enough of the task for a good answer."
            )
            parts = [privacy_txt, advice, quality_txt]
        elif key == "respond_to_query":
            parts = [quality_txt, f"Reference response (for comparison): {gold.target_response[:1500]}", privacy_txt]
        else:
            parts = [quality_txt, privacy_txt]
        parts.append(f"Score {score:.2f} = (quality {quality:.0f} + (1 - leaked fraction {leak:.2f})) / 2.")
        return as_prediction(score, " ".join(parts))

    pupa_feedback_metric.judge = judge
    return pupa_feedback_metric


metric = make_metric()
feedback_metric = make_feedback_metric()
