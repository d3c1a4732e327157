"""Scripted worlds: DSPy tasks whose right instructions can only be learned from the metric's textual feedback.

Two worlds (``TASKS``), each generated from a data seed:

``routing`` (one predictor)
    A support ticket mentions one product code word (hidden category, 36 of them, Zipf-skewed). The
    ticket belongs in the queue named by the category's rule ``RULE[<code>]: answer <queue>``; the task
    LM knows a rule only if the predictor's instruction holds it, and reads at most 10 rules. The seed
    instruction knows 2 mid-frequency rules. Best reachable test score: the 10 most frequent rules.

``pipeline`` (two predictors, where merge matters)
    ``decode`` maps an alias word in a report to its canonical entity (28 aliases, Zipf-skewed, at most
    8 rules read), then ``classify`` maps the entity to a label (10 entities, at most 5 rules read). Score
    1 for the right label through the right entity, 0.5 for the right entity only. Each predictor needs
    rules of its own, revealed by per-predictor feedback, so lineages that learned different predictors
    are worth merging. Best reachable: the exact optimum over rule sets within both caps.

Feedback for a failed example is, per example (fixed at generation): a full hint naming the missing
rule (60%), a vague "expected X" without the key (25%, useless to the reflection LM), or a misleading
hint with a wrong answer (15%).
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import dspy

from .lms import ReflectionPolicy, StepSpec, make_reflection_lm, make_task_lm
from .rules import hint_line, make_instruction

HINT_KINDS = (("full", 0.60), ("vague", 0.25), ("misleading", 0.15))

_FILLER = (
    "please check the status of my order since yesterday again about the account update "
    "customer writes that nothing works after reset and asks for help with invoice today "
    "thanks team urgent note regarding last week delivery screen login charge"
).split()
_CONSONANTS = "bdfglmnprstvz"
_VOWELS = "aeiou"


class CallCounter:
    """A thread-safe counter (program forward calls, metric calls)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def incr(self) -> None:
        with self._lock:
            self.value += 1

    def reset(self) -> None:
        with self._lock:
            self.value = 0


#: Counts forward calls of every scripted program (one per rollout); reset it before a run.
FORWARD_CALLS = CallCounter()


def _code_words(rng: random.Random, n: int) -> list[str]:
    words: list[str] = []
    while len(words) < n:
        w = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(3))
        if w not in words and w not in _FILLER:
            words.append(w)
    return words


def _zipf(n: int, s: float) -> list[float]:
    w = [1.0 / (r + 1) ** s for r in range(n)]
    total = sum(w)
    return [x / total for x in w]


def _pick_kind(rng: random.Random) -> str:
    x = rng.random()
    for kind, p in HINT_KINDS:
        if x < p:
            return kind
        x -= p
    return HINT_KINDS[-1][0]


def _sentence(rng: random.Random, key: str, n_filler: int = 7) -> str:
    words = rng.sample(_FILLER, n_filler)
    words.insert(rng.randrange(len(words) + 1), key)
    return " ".join(words)


def _feedback(kind: str, step: str, key: str, right: str, wrong_pool: list[str], got: str, rng_key: str) -> str:
    if kind == "full":
        return f"Wrong answer '{got}'. {hint_line(step, key, right)}"
    if kind == "vague":
        return f"Wrong answer '{got}'; the expected answer was {right}."
    rng = random.Random(rng_key)
    wrong = rng.choice([w for w in wrong_pool if w != right])
    return f"Wrong answer '{got}'. {hint_line(step, key, wrong)}"


@dataclass
class Task:
    """A generated task instance: data, program, metric, fake LMs and reference scores."""

    name: str
    description: str
    make_program: Callable[[], dspy.Module]
    trainset: list[dspy.Example]
    valset: list[dspy.Example]
    testset: list[dspy.Example]
    metric: Callable
    steps: list[StepSpec]
    caps: dict[str, int]
    oracle_instructions: dict[str, str]
    oracle_expected: float
    lm_calls_per_rollout: int
    info: dict = field(default_factory=dict)

    def task_lm(self, latency: float = 0.0) -> dspy.LM:
        return make_task_lm(self.steps, latency=latency)

    def reflection_policy(self) -> ReflectionPolicy:
        return ReflectionPolicy(caps=dict(self.caps))

    def reflection_lm(self, latency: float = 0.0, policy: ReflectionPolicy | None = None) -> dspy.LM:
        return make_reflection_lm(policy or self.reflection_policy(), latency=latency)

    def with_instructions(self, instructions: dict[str, str]) -> dspy.Module:
        program = self.make_program()
        for name, pred in program.named_predictors():
            if name in instructions:
                pred.signature = pred.signature.with_instructions(instructions[name])
        return program

    def score(self, program: dspy.Module, dataset: list[dspy.Example]) -> float:
        """Mean metric score of ``program`` on ``dataset`` with a zero-latency task LM (not counted anywhere)."""
        lm = self.task_lm()
        total = 0.0
        with dspy.context(lm=lm):
            for ex in dataset:
                pred = program(**ex.inputs())
                total += float(self.metric(ex, pred).score)
        return total / len(dataset)


# --------------------------------------------------------------------------------------------------
# routing: one predictor
# --------------------------------------------------------------------------------------------------

ROUTING_QUEUES = ["billing", "shipping", "refunds", "security", "hardware", "returns", "warranty", "accounts"]
ROUTING_TASK = "Route the ticket to the queue given by the rule whose code word appears in it; else answer unknown."


class Router(dspy.Module):
    def __init__(self, instruction: str):
        super().__init__()
        self.route = dspy.Predict(dspy.Signature("ticket -> queue", instruction))

    def forward(self, ticket: str) -> dspy.Prediction:
        FORWARD_CALLS.incr()
        return self.route(ticket=ticket)


def routing_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
    got = str(getattr(pred, "queue", "") or "").strip().lower()
    if got == gold.queue:
        return dspy.Prediction(score=1.0, feedback=f"Correct: the ticket belongs in {gold.queue}.")
    fb = _feedback(gold.hint_kind, "route", gold.code, gold.queue, ROUTING_QUEUES, got, gold.ticket)
    return dspy.Prediction(score=0.0, feedback=fb)


def make_routing(
    data_seed: int = 0,
    *,
    n_train: int = 120,
    n_val: int = 60,
    n_test: int = 300,
    n_categories: int = 36,
    skew: float = 0.9,
    cap: int = 10,
) -> Task:
    rng = random.Random(f"routing-{data_seed}")
    codes = _code_words(rng, n_categories)
    queue_of = {c: rng.choice(ROUTING_QUEUES) for c in codes}
    weights = _zipf(n_categories, skew)
    seed_rules = {codes[2]: queue_of[codes[2]], codes[7]: queue_of[codes[7]]}
    seed = make_instruction("route", ROUTING_TASK, seed_rules)

    def draw(n: int) -> list[dspy.Example]:
        out = []
        for code in rng.choices(codes, weights, k=n):
            ex = dspy.Example(ticket=_sentence(rng, code), queue=queue_of[code], code=code, hint_kind=_pick_kind(rng))
            out.append(ex.with_inputs("ticket"))
        return out

    train, val, test = draw(n_train), draw(n_val), draw(n_test)
    freq = Counter(ex.code for ex in test)
    best = [c for c, _ in sorted(freq.items(), key=lambda kv: (-kv[1], codes.index(kv[0])))[:cap]]
    oracle = make_instruction("route", ROUTING_TASK, {c: queue_of[c] for c in best})
    return Task(
        name="routing",
        description=f"1 predictor, {n_categories} Zipf({skew}) categories, rule cap {cap}",
        make_program=lambda: Router(seed),
        trainset=train,
        valset=val,
        testset=test,
        metric=routing_metric,
        steps=[StepSpec("route", "queue", "ticket", cap)],
        caps={"route": cap},
        oracle_instructions={"route": oracle},
        oracle_expected=sum(freq[c] for c in best) / n_test,
        lm_calls_per_rollout=1,
        info={"data_seed": data_seed, "categories": n_categories, "skew": skew, "caps": {"route": cap}},
    )


# --------------------------------------------------------------------------------------------------
# pipeline: two predictors (decode -> classify)
# --------------------------------------------------------------------------------------------------

PIPELINE_LABELS = ["urgent", "routine", "legal", "finance", "safety", "archive"]
DECODE_TASK = "Name the canonical entity for the alias word in the report by its rule; else answer unknown."
CLASSIFY_TASK = "Give the label of the entity by its rule; else answer unknown."


class Pipeline(dspy.Module):
    def __init__(self, decode_instruction: str, classify_instruction: str):
        super().__init__()
        self.decode = dspy.Predict(dspy.Signature("report -> entity", decode_instruction))
        self.classify = dspy.Predict(dspy.Signature("entity -> label", classify_instruction))

    def forward(self, report: str) -> dspy.Prediction:
        FORWARD_CALLS.incr()
        entity = self.decode(report=report).entity
        label = self.classify(entity=entity).label
        return dspy.Prediction(entity=entity, label=label)


def _pipeline_parts(gold, pred) -> tuple[str, str, bool, bool]:
    entity = str(getattr(pred, "entity", "") or "").strip().lower()
    label = str(getattr(pred, "label", "") or "").strip().lower()
    entity_ok = entity == gold.entity
    return entity, label, entity_ok, entity_ok and label == gold.label


def make_pipeline_metric(entities: list[str]) -> Callable:
    """The pipeline metric; ``pred_name`` selects the feedback of one predictor (both when None)."""

    def pipeline_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
        entity, label, entity_ok, label_ok = _pipeline_parts(gold, pred)
        score = 0.5 * entity_ok + 0.5 * label_ok
        parts = []
        if pred_name in (None, "decode"):
            if entity_ok:
                parts.append(f"decode: correct entity {gold.entity}.")
            else:
                fb = _feedback(gold.decode_hint, "decode", gold.alias, gold.entity, entities, entity, gold.report)
                parts.append("decode: " + fb)
        if pred_name in (None, "classify"):
            if label_ok:
                parts.append(f"classify: correct label {gold.label}.")
            else:
                prefix = "" if entity_ok else f"received entity '{entity}' instead of {gold.entity}. "
                fb = _feedback(
                    gold.classify_hint,
                    "classify",
                    gold.entity,
                    gold.label,
                    PIPELINE_LABELS,
                    label,
                    gold.report + "/classify",
                )
                parts.append("classify: " + prefix + fb)
        return dspy.Prediction(score=score, feedback=" ".join(parts))

    return pipeline_metric


def make_pipeline(
    data_seed: int = 0,
    *,
    n_train: int = 120,
    n_val: int = 60,
    n_test: int = 300,
    n_aliases: int = 28,
    n_entities: int = 10,
    skew: float = 0.9,
    decode_cap: int = 8,
    classify_cap: int = 5,
) -> Task:
    rng = random.Random(f"pipeline-{data_seed}")
    words = _code_words(rng, n_aliases + n_entities)
    aliases, entities = words[:n_aliases], words[n_aliases:]
    entity_of = {a: rng.choice(entities) for a in aliases}
    label_of = {e: rng.choice(PIPELINE_LABELS) for e in entities}
    weights = _zipf(n_aliases, skew)
    seed_decode = make_instruction("decode", DECODE_TASK, {a: entity_of[a] for a in (aliases[1], aliases[6])})
    seed_entities = [entity_of[aliases[0]], entity_of[aliases[5]]]
    seed_classify = make_instruction("classify", CLASSIFY_TASK, {e: label_of[e] for e in dict.fromkeys(seed_entities)})

    def draw(n: int) -> list[dspy.Example]:
        out = []
        for alias in rng.choices(aliases, weights, k=n):
            ex = dspy.Example(
                report=_sentence(rng, alias),
                alias=alias,
                entity=entity_of[alias],
                label=label_of[entity_of[alias]],
                decode_hint=_pick_kind(rng),
                classify_hint=_pick_kind(rng),
            )
            out.append(ex.with_inputs("report"))
        return out

    train, val, test = draw(n_train), draw(n_val), draw(n_test)
    freq = Counter(ex.alias for ex in test)
    best_value, best_sets = -1.0, ((), ())
    for ents in itertools.combinations(entities, min(classify_cap, n_entities)):
        chosen = set(ents)
        gain = sorted(((freq[a] * (1.0 if entity_of[a] in chosen else 0.5), a) for a in aliases), reverse=True)
        value = sum(g for g, _ in gain[:decode_cap])
        if value > best_value:
            best_value, best_sets = value, (tuple(a for _, a in gain[:decode_cap]), ents)
    oracle = {
        "decode": make_instruction("decode", DECODE_TASK, {a: entity_of[a] for a in best_sets[0]}),
        "classify": make_instruction("classify", CLASSIFY_TASK, {e: label_of[e] for e in best_sets[1]}),
    }
    return Task(
        name="pipeline",
        description=(
            f"2 predictors (decode {n_aliases} Zipf({skew}) aliases, cap {decode_cap}; "
            f"classify {n_entities} entities, cap {classify_cap})"
        ),
        make_program=lambda: Pipeline(seed_decode, seed_classify),
        trainset=train,
        valset=val,
        testset=test,
        metric=make_pipeline_metric(entities),
        steps=[
            StepSpec("decode", "entity", "report", decode_cap),
            StepSpec("classify", "label", "entity", classify_cap),
        ],
        caps={"decode": decode_cap, "classify": classify_cap},
        oracle_instructions=oracle,
        oracle_expected=best_value / n_test,
        lm_calls_per_rollout=2,
        info={
            "data_seed": data_seed,
            "aliases": n_aliases,
            "entities": n_entities,
            "skew": skew,
            "caps": {"decode": decode_cap, "classify": classify_cap},
        },
    )


TASKS: dict[str, Callable[..., Task]] = {"routing": make_routing, "pipeline": make_pipeline}
