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
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import dspy

from .lms import Latency, LatencyProfile, ReflectionPolicy, StepSpec, make_reflection_lm, make_task_lm
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


def _pick_kind(rng: random.Random, kinds: tuple[tuple[str, float], ...] = HINT_KINDS) -> str:
    x = rng.random()
    for kind, p in kinds:
        if x < p:
            return kind
        x -= p
    return kinds[-1][0]


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
    #: Scores the test split (the true quality); None: ``metric``. A noisy world's metric is noisy, its test is not.
    true_metric: Callable | None = None
    #: Imperfections of the fake reflection LM (``ReflectionPolicy`` fields); empty: the defaults.
    reflection_imperfections: dict = field(default_factory=dict)
    #: The world's own latency model (:class:`LatencyProfile`); None: the latency suite's constant latencies.
    latency_profile: LatencyProfile | None = None
    test_scores: dict = field(default_factory=dict, repr=False)

    def task_lm(self, latency: Latency = 0.0) -> dspy.LM:
        return make_task_lm(self.steps, latency=latency)

    def reflection_policy(self) -> ReflectionPolicy:
        return ReflectionPolicy(caps=dict(self.caps), **self.reflection_imperfections)

    def latencies(self, task_latency: float, reflection_latency: float) -> tuple[Latency, Latency]:
        """Per-call latencies of the task and reflection LMs: the world's profile if it has one, else constants."""
        if self.latency_profile is None:
            return task_latency, reflection_latency
        return self.latency_profile.task, self.latency_profile.reflection

    def reflection_lm(self, latency: Latency = 0.0, policy: ReflectionPolicy | None = None) -> dspy.LM:
        return make_reflection_lm(policy or self.reflection_policy(), latency=latency)

    def with_instructions(self, instructions: dict[str, str]) -> dspy.Module:
        program = self.make_program()
        for name, pred in program.named_predictors():
            if name in instructions:
                pred.signature = pred.signature.with_instructions(instructions[name])
        return program

    def test_score(self, instructions: dict[str, str]) -> float:
        """:meth:`score` on the test split of the program with these instructions (memoized: runs share it)."""
        key = tuple(sorted(instructions.items()))
        if key not in self.test_scores:
            self.test_scores[key] = self.score(self.with_instructions(instructions), self.testset)
        return self.test_scores[key]

    def score(self, program: dspy.Module, dataset: list[dspy.Example]) -> float:
        """Mean metric score of ``program`` on ``dataset`` with a zero-latency task LM (not counted anywhere)."""
        lm = self.task_lm()
        metric = self.true_metric or self.metric
        total = 0.0
        with dspy.context(lm=lm):
            for ex in dataset:
                pred = program(**ex.inputs())
                total += float(metric(ex, pred).score)
        return total / len(dataset)


# --------------------------------------------------------------------------------------------------
# routing: one predictor
# --------------------------------------------------------------------------------------------------

ROUTING_QUEUES = ["billing", "shipping", "refunds", "security", "hardware", "returns", "warranty", "accounts"]
ROUTING_TASK = "Route the ticket to the queue given by the rule whose code word appears in it; else answer unknown."


class Router(dspy.Module):
    def __init__(self, instruction: str, tag_instruction: bool = False):
        super().__init__()
        self.route = dspy.Predict(dspy.Signature("ticket -> queue", instruction))
        self.tag_instruction = tag_instruction

    def forward(self, ticket: str) -> dspy.Prediction:
        FORWARD_CALLS.incr()
        pred = self.route(ticket=ticket)
        if self.tag_instruction:  # lets a noisy metric score the same answer differently per candidate; private,
            pred._instruction_key = zlib.crc32(self.route.signature.instructions.encode())  # so not an output
        return pred


def routing_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
    got = str(getattr(pred, "queue", "") or "").strip().lower()
    if got == gold.queue:
        return dspy.Prediction(score=1.0, feedback=f"Correct: the ticket belongs in {gold.queue}.")
    fb = _feedback(gold.hint_kind, "route", gold.code, gold.queue, ROUTING_QUEUES, got, gold.ticket)
    return dspy.Prediction(score=0.0, feedback=fb)


def make_noisy_metric(metric: Callable, flip: float, jitter: float) -> Callable:
    """``metric`` with judge noise: per (example, candidate) the verdict flips with probability ``flip`` and the
    score moves up to ``jitter`` toward the other end, so the same answer gets different scores from different
    candidates (deterministically: a rollout scored again gets the same score). The feedback stays truthful."""

    def noisy_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
        base = metric(gold, pred, trace, pred_name, pred_trace)
        rng = random.Random(f"{gold.ticket}/{getattr(pred, '_instruction_key', 0)}")
        right = base.score >= 1.0
        if rng.random() < flip:
            right = not right
        shift = rng.uniform(0.0, jitter)
        return dspy.Prediction(score=1.0 - shift if right else shift, feedback=base.feedback)

    return noisy_metric


def make_routing(
    data_seed: int = 0,
    *,
    n_train: int = 120,
    n_val: int = 60,
    n_test: int = 300,
    n_categories: int = 36,
    skew: float = 0.9,
    cap: int = 10,
    name: str = "routing",
    seed_ranks: tuple[int, ...] = (2, 7),
    hint_kinds: tuple[tuple[str, float], ...] = HINT_KINDS,
    noise: tuple[float, float] | None = None,
    reflection_imperfections: dict | None = None,
    latency_profile: LatencyProfile | None = None,
) -> Task:
    """One predictor routing tickets by code-word rules; the keywords make the variants (see the module doc)."""
    rng = random.Random(f"{name}-{data_seed}")
    codes = _code_words(rng, n_categories)
    queue_of = {c: rng.choice(ROUTING_QUEUES) for c in codes}
    weights = _zipf(n_categories, skew)
    seed_rules = {codes[r]: queue_of[codes[r]] for r in seed_ranks}
    seed = make_instruction("route", ROUTING_TASK, seed_rules)

    def draw(n: int) -> list[dspy.Example]:
        out = []
        for code in rng.choices(codes, weights, k=n):
            ex = dspy.Example(ticket=_sentence(rng, code), queue=queue_of[code], code=code,
                              hint_kind=_pick_kind(rng, hint_kinds))
            out.append(ex.with_inputs("ticket"))
        return out

    train, val, test = draw(n_train), draw(n_val), draw(n_test)
    freq = Counter(ex.code for ex in test)
    best = [c for c, _ in sorted(freq.items(), key=lambda kv: (-kv[1], codes.index(kv[0])))[:cap]]
    oracle = make_instruction("route", ROUTING_TASK, {c: queue_of[c] for c in best})
    metric = make_noisy_metric(routing_metric, *noise) if noise else routing_metric
    description = f"1 predictor, {n_categories} Zipf({skew}) categories, rule cap {cap}"
    if noise:
        description += f", judge noise (flip {noise[0]:.0%}, jitter {noise[1]})"
    return Task(
        name=name,
        description=description,
        make_program=lambda: Router(seed, tag_instruction=noise is not None),
        trainset=train,
        valset=val,
        testset=test,
        metric=metric,
        steps=[StepSpec("route", "queue", "ticket", cap)],
        caps={"route": cap},
        oracle_instructions={"route": oracle},
        oracle_expected=sum(freq[c] for c in best) / n_test,
        lm_calls_per_rollout=1,
        info={"data_seed": data_seed, "categories": n_categories, "skew": skew, "caps": {"route": cap}},
        true_metric=routing_metric if noise else None,
        reflection_imperfections=dict(reflection_imperfections or {}),
        latency_profile=latency_profile,
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


# --------------------------------------------------------------------------------------------------
# chain: any number of predictors, each mapping the previous one's answer on
# --------------------------------------------------------------------------------------------------

CHAIN_LABELS = ["urgent", "routine", "legal", "finance", "safety", "archive", "press", "audit"]


class Chain(dspy.Module):
    """``stages[i]`` maps its input field to its output field; the first reads the report."""

    def __init__(self, stages: list[StepSpec], instructions: list[str]):
        super().__init__()
        self.order = [s.name for s in stages]
        for spec, text in zip(stages, instructions, strict=True):
            setattr(self, spec.name, dspy.Predict(dspy.Signature(f"{spec.input_field} -> {spec.output_field}", text)))
        self.fields = [(s.input_field, s.output_field) for s in stages]

    def forward(self, report: str) -> dspy.Prediction:
        FORWARD_CALLS.incr()
        value, out = report, {}
        for name, (inp, outp) in zip(self.order, self.fields, strict=True):
            value = getattr(self, name)(**{inp: value})[outp]
            out[outp] = value
        return dspy.Prediction(**out)


def make_chain_metric(stages: list[StepSpec], domains: list[list[str]]) -> Callable:
    """Score: the fraction of stages that answered right. Feedback per predictor (``pred_name``), all when None."""

    def chain_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
        right, parts = 0, []
        for i, spec in enumerate(stages):
            got = str(getattr(pred, spec.output_field, "") or "").strip().lower()
            want = gold.chain[i + 1]
            ok = got == want
            right += ok
            if pred_name not in (None, spec.name):
                continue
            if ok:
                parts.append(f"{spec.name}: correct {want}.")
                continue
            received = gold.chain[i] if i == 0 else str(getattr(pred, stages[i - 1].output_field, "") or "")
            prefix = "" if received == gold.chain[i] else f"received '{received}' instead of {gold.chain[i]}. "
            fb = _feedback(gold.stage_hints[i], spec.name, gold.chain[i], want, domains[i + 1], got, f"{gold.report}/{i}")
            parts.append(f"{spec.name}: {prefix}{fb}")
        return dspy.Prediction(score=right / len(stages), feedback=" ".join(parts))

    return chain_metric


def make_chain(
    data_seed: int = 0,
    *,
    name: str = "multi",
    sizes: tuple[int, ...] = (30, 14, 8, 6, 4),
    caps: tuple[int, ...] = (7, 5, 4, 3),
    skew: float = 0.9,
    n_train: int = 120,
    n_val: int = 60,
    n_test: int = 300,
    reflection_imperfections: dict | None = None,
    latency_profile: LatencyProfile | None = None,
) -> Task:
    """``len(caps)`` predictors in a chain: stage ``i`` maps a word of domain ``i`` (``sizes[i]`` words; the first
    Zipf-skewed, found in the report) to one of domain ``i + 1`` by rules, reading at most ``caps[i]`` rules. The
    seed knows one rule per stage. Best reachable: each stage keeps the rules of its most frequent inputs among the
    examples whose earlier stages are right (greedy, stage by stage; computed exactly on the test split)."""
    rng = random.Random(f"{name}-{data_seed}")
    n_stages = len(caps)
    words = _code_words(rng, sum(sizes[:-1]))
    domains, start = [], 0
    for size in sizes[:-1]:
        domains.append(words[start:start + size])
        start += size
    domains.append(CHAIN_LABELS[: sizes[-1]])
    maps = [{w: rng.choice(domains[i + 1]) for w in domains[i]} for i in range(n_stages)]
    stage_names = ["decode", "classify", "prioritize", "assign", "escalate", "notify"][:n_stages]
    fields = ["report", "entity", "category", "priority", "team", "level", "channel"]
    stages = [StepSpec(stage_names[i], fields[i + 1], fields[i], caps[i]) for i in range(n_stages)]
    weights = _zipf(sizes[0], skew)

    def chain_values(key: str) -> list[str]:
        values = [key]
        for i in range(n_stages):
            values.append(maps[i][values[-1]])
        return values

    def draw(n: int) -> list[dspy.Example]:
        out = []
        for key in rng.choices(domains[0], weights, k=n):
            report = _sentence(rng, key)
            ex = dspy.Example(report=report, chain=chain_values(key), stage_hints=[_pick_kind(rng) for _ in stages])
            out.append(ex.with_inputs("report"))
        return out

    train, val, test = draw(n_train), draw(n_val), draw(n_test)
    seed_key = domains[0][1]
    seed_values = chain_values(seed_key)
    seeds = [make_instruction(s.name, f"Map the {s.input_field} to its {s.output_field} by its rule; else answer "
                              "unknown.", {seed_values[i]: seed_values[i + 1]}) for i, s in enumerate(stages)]
    alive = list(test)
    oracle_rules: list[dict[str, str]] = []
    credit = 0.0
    for i in range(n_stages):
        freq = Counter(ex.chain[i] for ex in alive)
        keep = [w for w, _ in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[: caps[i]]]
        oracle_rules.append({w: maps[i][w] for w in keep})
        alive = [ex for ex in alive if ex.chain[i] in keep]
        credit += len(alive)
    oracle = {s.name: make_instruction(s.name, f"Map the {s.input_field} to its {s.output_field} by its rule; "
                                       "else answer unknown.", oracle_rules[i]) for i, s in enumerate(stages)}
    return Task(
        name=name,
        description=f"{n_stages} predictors in a chain (first input {sizes[0]} Zipf({skew}) words; caps "
        f"{'/'.join(map(str, caps))})",
        make_program=lambda: Chain(stages, seeds),
        trainset=train,
        valset=val,
        testset=test,
        metric=make_chain_metric(stages, domains),
        steps=stages,
        caps={s.name: s.rule_limit for s in stages},
        oracle_instructions=oracle,
        oracle_expected=credit / (n_test * n_stages),
        lm_calls_per_rollout=n_stages,
        info={"data_seed": data_seed, "sizes": list(sizes), "skew": skew, "caps": {s.name: s.rule_limit
                                                                                for s in stages}},
        reflection_imperfections=dict(reflection_imperfections or {}),
        latency_profile=latency_profile,
    )


# --------------------------------------------------------------------------------------------------
# the worlds
# --------------------------------------------------------------------------------------------------

#: Real-world latencies (seconds) of the ``heavytail`` world, run 40 times faster: a task-LM call has a 2 s median
#: (50 ms simulated) and a heavy tail (sigma 0.8: one call in a hundred takes over 12 s), a reflection a 12 s median
#: (300 ms simulated).
REALISTIC_LATENCY = LatencyProfile(task_median_s=2.0, task_sigma=0.8, reflection_median_s=12.0,
                                   reflection_sigma=0.5, time_scale=40.0)


def make_sparse(data_seed: int = 0, **kw) -> Task:
    """Rare improvements: the seed knows the head, hints are mostly vague or wrong, reflection often breaks rules."""
    return make_routing(data_seed, name="sparse", n_categories=40, skew=1.1, cap=10, seed_ranks=(0, 1, 2),
                        hint_kinds=(("full", 0.3), ("vague", 0.45), ("misleading", 0.25)),
                        reflection_imperfections={"p_forget": 0.4, "p_garble": 0.35}, **kw)


def make_noisy(data_seed: int = 0, **kw) -> Task:
    """A noisy judge: a verdict flips one time in eight and scores jitter by up to 0.35 (test scored noise-free)."""
    return make_routing(data_seed, name="noisy", noise=(0.125, 0.35), **kw)


def make_longtail(data_seed: int = 0, **kw) -> Task:
    """Most of the gain in rare rules: 90 flat-Zipf categories, the seed knows the 5 most frequent, cap 40."""
    return make_routing(data_seed, name="longtail", n_categories=90, skew=0.4, cap=40, n_train=200,
                        seed_ranks=(0, 1, 2, 3, 4), **kw)


def make_multi(data_seed: int = 0, **kw) -> Task:
    """Four predictors in a chain, each with rules of its own revealed by per-predictor feedback."""
    return make_chain(data_seed, name="multi", **kw)


def make_heavytail(data_seed: int = 0, **kw) -> Task:
    """Three predictors in a chain with realistic log-normal latencies (:data:`REALISTIC_LATENCY`)."""
    return make_chain(data_seed, name="heavytail", sizes=(24, 10, 6, 4), caps=(8, 5, 3),
                      latency_profile=REALISTIC_LATENCY, **kw)


TASKS: dict[str, Callable[..., Task]] = {
    "routing": make_routing,
    "pipeline": make_pipeline,
    "sparse": make_sparse,
    "noisy": make_noisy,
    "multi": make_multi,
    "longtail": make_longtail,
    "heavytail": make_heavytail,
}
#: Worlds the search defaults were tuned on; the others only report (never tuned on).
TUNING_WORLDS = ("routing", "pipeline", "sparse", "noisy")
REPORTING_WORLDS = ("multi", "longtail", "heavytail")
