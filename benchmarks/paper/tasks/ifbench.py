"""IFBench (precise instruction following with out-of-distribution constraints), as the GEPA paper ran it.

Program: two stages. ``generate_response`` answers the prompt; ``ensure_correct_response`` rewrites that answer
so that it satisfies every constraint in the prompt. Score: the fraction of the prompt's constraints the final
response follows (IFEval's "loose" instruction-level accuracy). Feedback lists the constraints met and missed,
with what was measured.

Constraints are checked by our own checkers (:mod:`benchmarks.paper.tasks.ifbench_checks`), which cover 36 of the
57 constraint types in the IFBench test file; the offline splits hold only prompts whose constraints are all
covered.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

import dspy

from benchmarks.paper.common import (
    DataUnavailableError,
    as_prediction,
    data_path,
    open_text,
    predictor_key,
    require_datasets,
    resolve_sizes,
)
from benchmarks.paper.tasks.ifbench_checks import SUPPORTED, UnsupportedConstraintError, check_loose, describe

__all__ = [
    "PAPER_SIZES",
    "PREDICTORS",
    "IFBenchTwoStage",
    "evaluate_constraints",
    "example_from_row",
    "feedback_metric",
    "load_splits",
    "make_program",
    "metric",
    "read_offline_rows",
]

NAME = "ifbench"
PAPER_SIZES = (150, 300, 294)  # train, val, test (arXiv 2507.19457; gepa-artifact benchmark code)
OFFLINE_FILE = ("ifbench", "IFBench_test.jsonl.gz")
HF_TEST = "allenai/IFBench_test"
HF_TRAIN = "allenai/IF_multi_constraints_upto5"
PREDICTORS = ("generate_response", "ensure_correct_response")


# --- data -------------------------------------------------------------------------------------------------------


def read_offline_rows() -> list[dict]:
    """The 294 rows of the IFBench test file the paper used, in file order."""
    with open_text(data_path(*OFFLINE_FILE)) as f:
        return [json.loads(line) for line in f if line.strip()]


def _clean_kwargs(kwargs: list[dict]) -> list[dict]:
    return [{k: v for k, v in (kw or {}).items() if v is not None} for kw in kwargs]


def example_from_row(row: dict) -> dspy.Example:
    """A ``dspy.Example`` (input: ``prompt``) with ``instruction_ids`` and their ``instruction_kwargs``."""
    ids = list(row["instruction_id_list"])
    kwargs = _clean_kwargs(row["kwargs"])
    if len(ids) != len(kwargs):
        raise ValueError(f"row {row.get('key')}: {len(ids)} instruction ids but {len(kwargs)} kwargs")
    return dspy.Example(
        key=str(row.get("key", row.get("id", ""))),
        prompt=row["prompt"],
        instruction_ids=ids,
        instruction_kwargs=kwargs,
    ).with_inputs("prompt")


def supported(example: dspy.Example) -> bool:
    return all(i in SUPPORTED for i in example.instruction_ids)


def load_splits(
    offline: bool = True, seed: int = 0, sizes: Sequence[int] | None = None
) -> tuple[list[dspy.Example], list[dspy.Example], list[dspy.Example]]:
    """``(train, val, test)``.

    Paper (online): test = the 294 IFBench test prompts; val = rows 0–299 and train = rows 300–599 sampled with
    ``Random(1)`` to 150 of ``allenai/IF_multi_constraints_upto5`` (IFEval-style constraints). Online loading
    keeps that shape but needs checkers for every constraint id, so it fails loudly on ids we do not cover.

    Offline (differs from the paper): the pool is the IFBench test prompts whose constraints our checkers all
    cover; shuffled with ``Random(seed)`` and cut 20% train / 40% val / 40% test, then sampled with
    ``Random(seed + 1)`` when ``sizes`` asks for fewer.
    """
    rng = random.Random(seed + 1)
    if offline:
        pool = [ex for ex in map(example_from_row, read_offline_rows()) if supported(ex)]
        random.Random(seed).shuffle(pool)
        n_train, n_val = len(pool) // 5, (len(pool) * 2) // 5
        parts = pool[:n_train], pool[n_train : n_train + n_val], pool[n_train + n_val :]
        sizes = resolve_sizes(sizes, tuple(len(p) for p in parts))
    else:
        datasets = require_datasets()
        try:
            test_rows = datasets.load_dataset(HF_TEST, split="train")
            train_rows = datasets.load_dataset(HF_TRAIN, split="train").select(range(600))
        except Exception as exc:  # noqa: BLE001
            raise DataUnavailableError(f"could not load {HF_TEST} / {HF_TRAIN}: {exc}") from exc
        train_rows = [_from_rlvr_row(r) for r in train_rows]
        parts = train_rows[300:600], train_rows[:300], [example_from_row(r) for r in test_rows]
        missing = sorted({i for p in parts for ex in p for i in ex.instruction_ids} - SUPPORTED)
        if missing:
            raise UnsupportedConstraintError(
                f"the online IFBench splits use constraint ids without a checker here: {missing}"
            )
        sizes = resolve_sizes(sizes, PAPER_SIZES)
    out = []
    for part, n in zip(parts, sizes, strict=True):
        if n > len(part):
            raise ValueError(f"requested {n} examples but the pool has only {len(part)}")
        out.append(list(part) if n == len(part) else rng.sample(list(part), n))
    return out[0], out[1], out[2]


def _from_rlvr_row(row: dict) -> dspy.Example:
    """``IF_multi_constraints_upto5`` rows carry their constraints in ``ground_truth`` (a JSON string)."""
    truth = json.loads(row["ground_truth"]) if isinstance(row["ground_truth"], str) else row["ground_truth"]
    truth = truth[0] if isinstance(truth, list) else truth
    prompt = row["messages"][0]["content"] if "messages" in row else row["prompt"]
    return example_from_row(
        {
            "key": row.get("key", ""),
            "prompt": prompt,
            "instruction_id_list": truth["instruction_id"],
            "kwargs": truth["kwargs"],
        }
    )


# --- program ----------------------------------------------------------------------------------------------------


class GenerateResponse(dspy.Signature):
    """Respond to the prompt."""

    prompt: str = dspy.InputField()
    response: str = dspy.OutputField()


class EnsureCorrectResponse(dspy.Signature):
    """Rewrite the draft response so that it answers the prompt and follows every constraint stated in the
    prompt exactly."""

    prompt: str = dspy.InputField()
    draft_response: str = dspy.InputField()
    response: str = dspy.OutputField()


class IFBenchTwoStage(dspy.Module):
    """Answer, then rewrite the answer to satisfy the prompt's constraints (2 predictors)."""

    def __init__(self) -> None:
        super().__init__()
        self.generate_response = dspy.ChainOfThought(GenerateResponse)
        self.ensure_correct_response = dspy.ChainOfThought(EnsureCorrectResponse)

    def forward(self, prompt: str) -> dspy.Prediction:
        draft = self.generate_response(prompt=prompt).response
        final = self.ensure_correct_response(prompt=prompt, draft_response=draft).response
        return dspy.Prediction(response=final, draft_response=draft)


def make_program() -> IFBenchTwoStage:
    return IFBenchTwoStage()


# --- metric and feedback ----------------------------------------------------------------------------------------


def evaluate_constraints(example: dspy.Example, response: str | None) -> list[tuple[str, bool, str]]:
    """``(constraint description, followed, detail)`` per constraint, loose evaluation."""
    out = []
    for iid, kw in zip(example.instruction_ids, example.instruction_kwargs, strict=True):
        ok, detail = check_loose(iid, response or "", kw)
        out.append((describe(iid, kw), ok, detail))
    return out


def metric(gold: dspy.Example, pred: dspy.Prediction, trace=None) -> float:
    """Fraction of the prompt's constraints the final response follows (loose)."""
    results = evaluate_constraints(gold, getattr(pred, "response", None))
    return sum(ok for _, ok, _ in results) / len(results) if results else 0.0


def _report(results) -> str:
    met = [f"{d} — {why}" for d, ok, why in results if ok]
    missed = [f"{d} — {why}" for d, ok, why in results if not ok]
    return f"Constraints met: {'; '.join(met) or 'none'}. Constraints missed: {'; '.join(missed) or 'none'}."


def feedback_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
    """GEPA feedback metric: the loose constraint fraction plus the constraints met and missed (with details).

    For ``generate_response`` the feedback also reports how its draft fared before the rewrite.
    """
    results = evaluate_constraints(gold, getattr(pred, "response", None))
    score = sum(ok for _, ok, _ in results) / len(results) if results else 0.0
    head = f"The final response followed {sum(ok for _, ok, _ in results)} of {len(results)} constraints."
    parts = [head, _report(results)]
    if predictor_key(pred_name) == "generate_response":
        draft = evaluate_constraints(gold, getattr(pred, "draft_response", None))
        parts.append(
            f"Your draft (before the rewrite step) followed {sum(ok for _, ok, _ in draft)} of {len(draft)}: "
            + _report(draft)
        )
    return as_prediction(score, " ".join(parts))
