"""The scheduler: runs proposals, spends the budget, commits results, keeps the journal.

How it stays deterministic with several proposals in flight:

* Proposals commit strictly in order of their sequence number, and new proposals are planned and
  started only right after a commit (proposal 0 is the seed's validation), from the state at that
  moment. How many may be in flight (:meth:`Engine._concurrency`) is computed from committed proposals
  too. So what a proposal sees never depends on thread timing; with one in flight this is the paper's
  loop.
* Budget: a proposal reserves its worst case (``reservation``) when it starts, and it starts only if
  ``rollouts committed + reservations in flight + its own`` fits in ``max_metric_calls`` (minus, with
  the ``staged`` policy, the reserve kept for the final validation). A rollout is counted when it is
  dispatched. Hence ``total_metric_calls <= max_metric_calls`` at every instant, and the start
  decisions depend only on committed work. ``max_cost`` works the same way with dollar estimates.
* Every rollout key ``(candidate hash, split, example)`` runs at most once: later requests are served
  from memory, requests for a key already in flight wait for it, and a resumed run serves keys from
  the journal.
* The search ends on a budget or a stop condition; with the ``staged`` validation policy, the best
  screened candidates are then validated on every example (:meth:`Engine._plan_final`).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import logging
import math
import queue
import random
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dspy_gepa._redact import redact
from dspy_gepa._run_dir import JOURNAL
from dspy_gepa.engine import events as ev
from dspy_gepa.engine.adapter import codec_of
from dspy_gepa.engine.budget import budget_plan
from dspy_gepa.engine.journal import FileJournal, JournalContents, JournalRecorder, check_fingerprint, load
from dspy_gepa.engine.merge import MergeBook, plan_merge
from dspy_gepa.engine.proposals import (
    Evaluate,
    Plan,
    ProposalGen,
    Reflect,
    ReflectionResult,
    final_validation,
    merge_proposal,
    reflective_proposal,
    seed_proposal,
)
from dspy_gepa.engine.state import State, StateView
from dspy_gepa.engine.strategies import (
    BUILTIN_COMPONENT_SELECTORS,
    CANDIDATE_SELECTORS,
    EpochShuffledSampler,
    call_custom_selector,
    select_all,
    select_round_robin,
)
from dspy_gepa.engine.types import Candidate, EvaluationBatch, ProposalOutcome, Rollout, RolloutKey, candidate_hash
from dspy_gepa.engine.usage import combine, cost, known_cost, merge, priced_cost
from dspy_gepa.exceptions import (
    ConfigurationError,
    GEPAError,
    JournalMismatchError,
    MetricError,
    ProgramError,
    ReflectionError,
    UnusableProposalError,
)

logger = logging.getLogger(__name__)

#: How an accepted child is validated: on every example ("full", the paper's), or on a random screen first
#: and on the rest only if it holds up there ("staged"; see ``proposals.validate``).
VAL_POLICIES = ("full", "staged")


def default_concurrency(num_threads: int, minibatch_size: int) -> int:
    """Default cap on proposals in flight: enough to keep the threads busy on minibatch evaluations
    (each uses ``minibatch_size`` threads, twice per proposal), and no more."""
    return max(1, num_threads // (2 * minibatch_size))


@dataclass
class EngineConfig:
    """Knobs of the engine. Everything that changes decisions is in :meth:`fingerprint`."""

    max_metric_calls: int | None = None
    minibatch_size: int = 3
    candidate_selection: str = "pareto"
    component_selector: str | Callable[..., Any] = "round_robin"
    skip_perfect_score: bool = True
    perfect_score: float = 1.0
    use_merge: bool = True
    max_merge_invocations: int = 5
    merge_subsample_size: int = 5
    seed: int = 0
    num_threads: int = 1
    max_concurrent_proposals: int = 1
    max_consecutive_failures: int = 5
    max_cost: float | None = None
    adaptive_concurrency: bool = True
    keep_val_outputs: bool = False
    val_policy: str = "full"
    screen_fraction: float = 0.25
    screen_min: int = 10
    stop_callbacks: Sequence[Callable[[StateView], bool]] = ()

    def __post_init__(self) -> None:
        if self.candidate_selection not in CANDIDATE_SELECTORS:
            raise ConfigurationError(f"candidate_selection must be one of {sorted(CANDIDATE_SELECTORS)}, "
                                     f"not {self.candidate_selection!r}.")
        if isinstance(self.component_selector, str) and self.component_selector not in BUILTIN_COMPONENT_SELECTORS:
            raise ConfigurationError(f"component_selector must be one of {list(BUILTIN_COMPONENT_SELECTORS)} or a "
                                     f"callable, not {self.component_selector!r}.")
        for name in ("minibatch_size", "num_threads", "max_concurrent_proposals", "max_consecutive_failures",
                     "merge_subsample_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"{name} must be a positive integer, not {value!r}.")
        if self.val_policy not in VAL_POLICIES:
            raise ConfigurationError(f"val_evaluation_policy must be one of {sorted(VAL_POLICIES)}, "
                                     f"not {self.val_policy!r}.")
        if not 0 < self.screen_fraction <= 1:
            raise ConfigurationError(f"screen_fraction must be in (0, 1], not {self.screen_fraction!r}.")
        if self.max_cost is not None and (isinstance(self.max_cost, bool) or not isinstance(self.max_cost, int | float)
                                          or not self.max_cost > 0):
            raise ConfigurationError(f"max_cost must be a positive number of US dollars, not {self.max_cost!r}.")
        if self.max_metric_calls is not None and (isinstance(self.max_metric_calls, bool)
                                                  or not isinstance(self.max_metric_calls, int)
                                                  or self.max_metric_calls < 1):
            raise ConfigurationError(f"max_metric_calls must be a positive integer, not {self.max_metric_calls!r}.")

    def fingerprint(self) -> dict[str, Any]:
        selector = self.component_selector
        return {
            "minibatch_size": self.minibatch_size,
            "candidate_selection": self.candidate_selection,
            "component_selector": selector if isinstance(selector, str) else getattr(
                selector, "__qualname__", type(selector).__qualname__),
            "skip_perfect_score": self.skip_perfect_score,
            "perfect_score": self.perfect_score,
            "use_merge": self.use_merge,
            "max_merge_invocations": self.max_merge_invocations,
            "merge_subsample_size": self.merge_subsample_size,
            "seed": self.seed,
            "max_concurrent_proposals": self.max_concurrent_proposals,
            "adaptive_concurrency": self.adaptive_concurrency,
            "val_policy": self.val_policy if self.val_policy == "full"
            else f"{self.val_policy}:{self.screen_fraction}:{self.screen_min}",
        }

    def screen_size(self, val_size: int) -> int:
        """Examples a child is screened on before its full validation (``val_size`` means no screen)."""
        if self.val_policy == "full":
            return val_size
        return min(val_size, max(self.screen_min, math.ceil(self.screen_fraction * val_size)))


@dataclass
class EngineResult:
    state: State
    total_metric_calls: int
    stop_reason: str
    results: dict[RolloutKey, Rollout]
    usage: dict[str, Any] = field(default_factory=dict)
    proposals: list[dict[str, Any]] = field(default_factory=list)
    discovery_costs: list[float] = field(default_factory=list)

    def val_output(self, idx: int, val_id: int) -> Any:
        rollout = self.results.get(RolloutKey(self.state.hashes[idx], "val", val_id))
        return rollout.output if rollout is not None else None


class _Encoded:
    """A trajectory still in its journal form; decoded only if reflection needs it."""

    __slots__ = ("data",)

    def __init__(self, data: Any):
        self.data = data


@dataclass
class _Run:
    plan: Plan
    gen: ProposalGen
    start_commits: int
    keys: set[RolloutKey] = field(default_factory=set)
    fresh: set[RolloutKey] = field(default_factory=set)
    want: list[RolloutKey] = field(default_factory=list)
    got: dict[RolloutKey, Rollout] = field(default_factory=dict)
    components: list[str] = field(default_factory=list)
    reflection_usage: dict[str, Any] | None = None
    outcome: ProposalOutcome | None = None


_FATAL = (GEPAError,)


class _Halted(Exception):
    """A queued rollout that did not start because another one failed fatally (``Engine._halt``)."""


class Engine:
    ADAPT_WINDOW = 8

    def __init__(
        self,
        adapter: Any,
        trainset: Sequence[Any],
        valset: Sequence[Any],
        seed_candidate: Candidate,
        config: EngineConfig,
        *,
        bus: ev.EventBus | None = None,
        log_dir: str | Path | None = None,
        fingerprint_extra: dict[str, Any] | None = None,
        preflight: Callable[[], dict[str, Any] | None] | None = None,
    ):
        if not trainset:
            raise ConfigurationError("trainset is empty: GEPA needs examples to reflect on.")
        if not valset:
            raise ConfigurationError("valset is empty: GEPA needs examples to validate candidates on.")
        if not seed_candidate:
            raise ConfigurationError("The seed candidate has no components to optimize.")
        self.adapter = adapter
        self.codec = codec_of(adapter)
        self.trainset = list(trainset)
        self.valset = list(valset)
        self.seed_candidate = dict(seed_candidate)
        self.config = config
        self.bus = bus or ev.EventBus()
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.fingerprint_extra = dict(fingerprint_extra or {})
        self.preflight = preflight

        self.val_ids = list(range(len(self.valset)))
        self.state = State(component_names=list(self.seed_candidate), val_ids=self.val_ids)
        self.rng = random.Random(config.seed)
        self.sampler = EpochShuffledSampler(list(range(len(self.trainset))), config.minibatch_size,
                                            random.Random(config.seed + 1))
        size = config.screen_size(len(self.val_ids))
        self.screen = sorted(random.Random(config.seed + 2).sample(self.val_ids, size)) \
            if size < len(self.val_ids) else []
        # Held back from the search so the best screened candidate can always be validated in full.
        self.final_reserve = len(self.val_ids) - len(self.screen) if self.screen else 0
        self.merge_book = MergeBook()
        self.concurrency = config.max_concurrent_proposals

        self.results: dict[RolloutKey, Rollout] = {}
        self.committed_at: dict[RolloutKey, int] = {}
        self.used = 0
        self.waiters: dict[RolloutKey, list[_Run]] = {}
        self.runs: dict[int, _Run] = {}
        self.finished: dict[int, _Run] = {}
        self.next_seq = 0
        self.next_commit = 0
        self.pending: Plan | None = None
        self.stopping = False
        self.searching = True
        self.stop_reason = ""
        self.last_commit_added = False
        self.consecutive_failures: list[str] = []
        self.consecutive_idle = 0
        self.recent_outcomes: list[bool] = []
        self.tried: set[str] = set()
        self.spent: dict[str, Any] = {}
        self.reflections_paid = 0
        self.reflection_cost = 0.0
        self.proposals: list[dict[str, Any]] = []
        self.discovery_costs: list[float] = []
        self._ready: deque[tuple[_Run, Any]] = deque()
        self._queue: queue.Queue = queue.Queue()
        self._futures: set[Future] = set()
        self._recorded = JournalContents()
        self._journal: JournalRecorder | None = None
        self._eval_pool: ThreadPoolExecutor | None = None
        self._reflect_pool: ThreadPoolExecutor | None = None
        self._halt: BaseException | None = None

    # ------------------------------------------------------------------ setup

    def fingerprint(self) -> dict[str, Any]:
        def digest(examples: list[Any]) -> str:
            h = hashlib.sha256()
            for ex in examples:
                h.update(self.codec.example_fingerprint(ex).encode("utf-8", errors="replace"))
                h.update(b"\x00")
            return h.hexdigest()[:20]

        return {
            **self.config.fingerprint(),
            "components": list(self.seed_candidate),
            "seed_candidate": candidate_hash(self.seed_candidate),
            "trainset": f"{len(self.trainset)}:{digest(self.trainset)}",
            "valset": f"{len(self.valset)}:{digest(self.valset)}",
            **self.fingerprint_extra,
        }

    def _open_journal(self) -> bool:
        if self.log_dir is None:
            return False
        backend = FileJournal(self.log_dir / JOURNAL)
        contents = load(backend)
        fingerprint = self.fingerprint()
        if contents.header is not None:
            check_fingerprint(contents.header.get("fingerprint", {}), fingerprint, backend.path)
        self._recorded = contents
        backend.open()
        self._journal = JournalRecorder(backend, self.codec)
        self._journal.start(fingerprint, contents)
        self.bus.subscribe(self._journal, critical=True)
        return contents.header is not None and bool(contents.records[1:])

    # ------------------------------------------------------------------ running

    def run(self) -> EngineResult:
        resumed = self._open_journal()
        if resumed:
            logger.info("Resuming from %s: %d recorded rollouts and %d reflections will be replayed without LM "
                        "calls.", self.log_dir, len(self._recorded.rollouts), len(self._recorded.reflections))
        cfg = self.config
        if cfg.max_metric_calls is not None and cfg.max_metric_calls < len(self.valset):
            raise ConfigurationError(
                f"max_metric_calls={cfg.max_metric_calls} cannot pay for validating the seed program on the "
                f"{len(self.valset)} validation examples. Raise the budget or use a smaller valset.")
        # One short call to each LM before anything is spent, so a bad key or model fails now.
        try:
            preflight_usage = self.preflight() if self.preflight is not None else None
        except BaseException:
            if self._journal is not None:
                self._journal.close()
            raise
        plan_text = budget_plan(cfg.max_metric_calls, len(self.valset), min(cfg.minibatch_size, len(self.trainset)))
        logger.info(plan_text)
        self.bus.emit(ev.RunStarted(
            config={**cfg.fingerprint(), "num_threads": cfg.num_threads, "max_metric_calls": cfg.max_metric_calls},
            seed_candidate=dict(self.seed_candidate), train_size=len(self.trainset), val_size=len(self.valset),
            max_metric_calls=cfg.max_metric_calls, plan=plan_text, resumed=resumed))
        # Spending recorded outside proposals (pre-flight checks), this session's and earlier sessions'.
        for record in self._recorded.records:
            if record.get("type") == "usage":
                merge(self.spent, record.get("usage"))
        if preflight_usage:
            merge(self.spent, preflight_usage)
            self.bus.emit(ev.UsageRecorded(usage=preflight_usage, reason="pre-flight checks"))
        self._eval_pool = ThreadPoolExecutor(cfg.num_threads, thread_name_prefix="gepa-eval")
        self._reflect_pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="gepa-reflect")
        try:
            self._start(Plan(seq=0, kind="seed", parent_ids=[], candidate=dict(self.seed_candidate),
                             reservation=len(self.valset)))
            self.next_seq = 1
            self._pump()
            while self.runs:
                self._process(self._next_item())
        except BaseException as exc:
            self._shutdown()
            # What was paid for and recorded (rollouts cancelled or halted before running are not).
            self.bus.emit(ev.RunFailed(error=exc, total_metric_calls=len(self.results)))
            raise
        finally:
            self._eval_pool.shutdown(wait=False, cancel_futures=True)
            self._reflect_pool.shutdown(wait=False, cancel_futures=True)
        if not self.stop_reason:
            self.stop_reason = "no further proposal could start"
        best = self.state.best_idx()
        reflections = [p["status"] for p in self.proposals if p["kind"] == "reflective" and
                       p["status"] != "skipped_perfect"]
        unusable = reflections.count("reflection_failed")
        if unusable:
            logger.warning("%d of %d reflections could not be used (never adopted; each reason is in the log and in "
                           "detailed_results.proposals).", unusable, len(reflections))
        if best == 0 and len(self.state.candidates) > 0:
            logger.warning("GEPA found no program better than the seed on the validation set (%s); the seed's "
                           "instructions are returned unchanged.", self.stop_reason)
        logger.info("GEPA finished (%s): %d candidates, best #%d with validation score %.4f, %d metric calls.",
                    self.stop_reason, len(self.state.candidates), best, self.state.mean(best), self.used)
        self.bus.emit(ev.RunFinished(best_idx=best, best_val_mean=self.state.mean(best), total_metric_calls=self.used,
                                     num_candidates=len(self.state.candidates),
                                     num_full_val_evals=self.state.num_full_val_evals, stop_reason=self.stop_reason))
        if self._journal is not None:
            self._journal.close()
        return EngineResult(self.state, self.used, self.stop_reason, self.results, self.spent, self.proposals,
                            self.discovery_costs)

    def _next_item(self) -> tuple:
        while True:
            try:
                return self._queue.get(timeout=0.25)
            except queue.Empty:
                continue

    def _process(self, item: tuple) -> None:
        kind, key, future = item
        self._futures.discard(future)
        if not future.cancelled() and isinstance(future.exception(), _Halted):
            raise self._halt
        if kind == "rollout":
            self._rollout_done(key, future.result())
        else:
            run = self.runs[key]
            result: ReflectionResult = future.result()
            self._reflection_done(run, result, replayed=False)
        self._pump()

    # ------------------------------------------------------------------ proposals

    def _start(self, plan: Plan) -> None:
        if plan.kind == "seed":
            gen = seed_proposal(plan, self.val_ids)
        elif plan.kind == "final":
            gen = final_validation(plan, self.val_ids)
        elif plan.kind == "merge":
            gen = merge_proposal(plan, self.val_ids, self._known_at_plan(plan))
        else:
            chooser = None
            if not plan.components:
                def chooser(rollouts: list[Rollout], _plan=plan) -> list[str]:
                    trajectories = [self._trajectory(r, self.trainset[i]) for r, i in zip(rollouts, _plan.minibatch, strict=True)]
                    return call_custom_selector(self.config.component_selector, self.state, _plan.seq, trajectories,
                                                [r.score for r in rollouts], _plan.parent_ids[0])
            gen = reflective_proposal(plan, self.val_ids, skip_perfect_score=self.config.skip_perfect_score,
                                      perfect_score=self.config.perfect_score, choose_components=chooser,
                                      known_candidates=self._known_at_plan(plan))
        run = _Run(plan=plan, gen=gen, start_commits=self.next_commit)
        self.runs[plan.seq] = run
        self.bus.emit(ev.ProposalStarted(seq=plan.seq, kind=plan.kind, parent_ids=plan.parent_ids,
                                         minibatch=plan.minibatch, components=plan.components,
                                         replayed=plan.seq in self._recorded.commits))
        self._ready.append((run, None))

    def _known_at_plan(self, plan: Plan) -> Callable[[Candidate], bool]:
        """Candidates already in the pool or already tried and turned down (as of planning): proposing one
        again teaches nothing, and would only re-read cached scores while the reflection LM is paid."""
        known = set(self.state.hashes) | self.tried
        return lambda c: candidate_hash(c) in known

    def _pump(self) -> None:
        while self._ready:
            run, value = self._ready.popleft()
            try:
                request = run.gen.send(value)
            except StopIteration as stop:
                run.outcome = stop.value
                self.finished[run.plan.seq] = run
                self._commit_ready()
                continue
            if isinstance(request, Evaluate):
                self._request_eval(run, request)
            elif isinstance(request, Reflect):
                self._request_reflect(run, request)
            else:  # pragma: no cover - a programming error in a proposal
                raise TypeError(f"proposal yielded {request!r}")

    def _request_eval(self, run: _Run, req: Evaluate) -> None:
        h = candidate_hash(req.candidate)
        examples = self.trainset if req.split == "train" else self.valset
        run.want = [RolloutKey(h, req.split, i) for i in req.ids]
        run.got = {}
        for key in dict.fromkeys(run.want):
            run.keys.add(key)
            if self.committed_at.get(key, math.inf) >= run.start_commits:
                run.fresh.add(key)
            if key in self.results:
                run.got[key] = self.results[key]
            elif key in self.waiters:
                self.waiters[key].append(run)
            elif key in self._recorded.rollouts:
                self._count_rollout(run)
                rollout = self._decode(self._recorded.rollouts[key], with_output=key.split == "train"
                                       or self.config.keep_val_outputs)
                self.bus.emit(ev.RolloutFinished(key=key, rollout=rollout, seq=run.plan.seq, replayed=True))
                run.got[key] = self._keep(key, rollout)
            else:
                self._count_rollout(run)
                self.waiters[key] = [run]
                ctx = contextvars.copy_context()
                future = self._eval_pool.submit(ctx.run, self._rollout_task, examples[key.example],
                                                req.candidate, req.split == "train")
                self._futures.add(future)
                future.add_done_callback(lambda f, k=key: self._queue.put(("rollout", k, f)))
        if len(run.fresh) > run.plan.reservation:  # pragma: no cover - guards the reservation arithmetic
            raise AssertionError(f"proposal {run.plan.seq} needs more rollouts than it reserved")
        self._maybe_complete(run)

    def _count_rollout(self, run: _Run) -> None:
        self.used += 1
        cap = self.config.max_metric_calls
        if cap is not None and self.used > cap:  # pragma: no cover - guards the reservation arithmetic
            raise AssertionError(f"metric-call budget exceeded ({self.used} > {cap})")
        self.bus.emit(ev.BudgetUpdated(used=self.used, max_metric_calls=cap, reserved=self._reserved()))

    def _maybe_complete(self, run: _Run) -> None:
        if all(k in run.got for k in run.want):
            self._ready.append((run, [run.got[k] for k in run.want]))

    def _rollout_task(self, example: Any, candidate: Candidate, traces: bool) -> Rollout:
        if self._halt is not None:
            raise _Halted()
        try:
            batch: EvaluationBatch = self.adapter.evaluate([example], candidate, capture_traces=traces)
        except BaseException as exc:
            # Fatal for the run (the adapter scores the program's own errors): the rollouts still queued
            # must not start while the main thread gets round to stopping.
            self._halt = exc
            raise
        if len(batch.scores) != 1:
            raise MetricError(f"The adapter returned {len(batch.scores)} scores for one example.")
        score = batch.scores[0]
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise MetricError(f"The score of an example is {score!r}; scores must be finite numbers.")
        return batch.rollout(0)

    def _rollout_done(self, key: RolloutKey, rollout: Rollout) -> None:
        waiting = self.waiters.pop(key)
        self.bus.emit(ev.RolloutFinished(key=key, rollout=rollout, seq=waiting[0].plan.seq))
        self._keep(key, rollout)
        for run in waiting:
            if key in run.want and key not in run.got:
                run.got[key] = rollout
                self._maybe_complete(run)

    def _keep(self, key: RolloutKey, rollout: Rollout) -> Rollout:
        """Remember a rollout for reuse. Validation outputs are only needed for ``track_best_outputs``
        (the journal has them anyway), so they are not kept in memory otherwise."""
        if key.split == "val" and not self.config.keep_val_outputs and rollout.output is not None:
            rollout = dataclasses.replace(rollout, output=None)
        self.results[key] = rollout
        return rollout

    def _decode(self, record: dict[str, Any], with_output: bool = True) -> Rollout:
        score = record["score"]
        output = self.codec.decode_output(record.get("output")) if with_output else None
        return Rollout(score=float(score), output=output,
                       feedback=record.get("feedback"), error=record.get("error"), usage=record.get("usage"),
                       trajectory=_Encoded(record["trajectory"]) if record.get("trajectory") is not None else None)

    def _trajectory(self, rollout: Rollout, example: Any) -> Any:
        t = rollout.trajectory
        return self.codec.decode_trajectory(t.data, example) if isinstance(t, _Encoded) else t

    def _request_reflect(self, run: _Run, req: Reflect) -> None:
        run.components = list(req.components)
        parent_hash = candidate_hash(req.candidate)
        recorded = self._recorded.reflections.get(run.plan.seq)
        if recorded is not None:
            if recorded.get("parent") != parent_hash or list(recorded.get("components", [])) != list(req.components):
                raise JournalMismatchError(
                    f"Proposal {run.plan.seq} in the journal reflected on {recorded.get('components')} of candidate "
                    f"{recorded.get('parent')}, but the replay reached {req.components} of {parent_hash}. The run "
                    "is not deterministic (a custom component selector with its own state?); use a new log_dir.")
            self._reflection_done(run, ReflectionResult(recorded.get("texts"), recorded.get("error"),
                                                        recorded.get("usage")), replayed=True)
            return
        rollouts = [dataclasses.replace(r, trajectory=self._trajectory(r, self.trainset[i]))
                    for r, i in zip(req.rollouts, req.ids, strict=True)]
        ctx = contextvars.copy_context()
        future = self._reflect_pool.submit(ctx.run, self._reflect_task, req.candidate, req.components, rollouts)
        self._futures.add(future)
        future.add_done_callback(lambda f, s=run.plan.seq: self._queue.put(("reflect", s, f)))

    def _reflect_task(self, candidate: Candidate, components: list[str], rollouts: list[Rollout]) -> ReflectionResult:
        scope = getattr(self.adapter, "usage_scope", None)
        with scope() if scope is not None else contextlib.nullcontext() as usage:
            result = self._reflect(candidate, components, rollouts)
        result.usage = dict(usage) if usage else None
        return result

    def _reflect(self, candidate: Candidate, components: list[str], rollouts: list[Rollout]) -> ReflectionResult:
        try:
            batch = EvaluationBatch.from_rollouts(rollouts)
            dataset = self.adapter.make_reflective_dataset(candidate, batch, components)
            if not any(dataset.get(c) for c in components):
                raise UnusableProposalError(f"no reflective records for {components}: every traced example failed "
                                            "before reaching these components")
            texts = self.adapter.propose_new_texts(candidate, dataset, components)
        except UnusableProposalError as exc:
            return ReflectionResult(None, str(exc))
        except _FATAL:
            raise
        except Exception as exc:
            reason = redact(f"{type(exc).__name__}: {exc}")
            logger.warning("Reflection failed: %s", reason)
            return ReflectionResult(None, reason)
        return _check_texts(texts, components)

    def _reflection_done(self, run: _Run, result: ReflectionResult, *, replayed: bool) -> None:
        run.reflection_usage = result.usage
        self.bus.emit(ev.ReflectionFinished(seq=run.plan.seq, parent_hash=candidate_hash(run.plan.candidate),
                                            components=run.components, new_texts=result.new_texts,
                                            error=result.error, usage=result.usage, replayed=replayed))
        self._ready.append((run, result))

    # ------------------------------------------------------------------ commits and planning

    def _commit_ready(self) -> None:
        while self.next_commit in self.finished:
            run = self.finished.pop(self.next_commit)
            self._commit(run)
            del self.runs[run.plan.seq]
            self.next_commit += 1
            self._try_start()

    def _commit(self, run: _Run) -> None:
        plan, outcome = run.plan, run.outcome
        assert outcome is not None
        replayed = plan.seq in self._recorded.commits
        # A candidate is "discovered" once the work that found it is paid; its own validation comes after.
        new_hash = candidate_hash(outcome.child) if outcome.child is not None else None
        if new_hash is not None:
            self.tried.add(new_hash)
        own_validation = {k for k in run.keys if k.split == "val" and k.candidate == new_hash}
        paid = [self.results[k] for k in sorted(run.keys) if k not in self.committed_at]
        usage = combine([*(r.usage for r in paid), run.reflection_usage])
        self._spend(usage, reflection=run.reflection_usage)
        for rollout in paid:
            rollout.usage = None  # counted: the journal and self.spent have it
        for key in run.keys - own_validation:
            self.committed_at.setdefault(key, self.next_commit)
        discovered_at = 0 if plan.kind == "seed" else len(self.committed_at)
        for key in own_validation:
            self.committed_at.setdefault(key, self.next_commit)
        new_idx = None
        if plan.kind == "final":
            self._complete_validation(plan, outcome, replayed)
        elif outcome.adds_candidate:
            if plan.kind != "seed" and new_hash in self.state.index_by_hash:
                outcome = ProposalOutcome("duplicate", "an identical candidate was added while this one was in flight",
                                          parent_scores=outcome.parent_scores, child_scores=outcome.child_scores,
                                          components=outcome.components)
            else:
                best_before = self.state.best_idx() if self.state.candidates else None
                new_idx = self.state.add(outcome.child, plan.parent_ids, outcome.val_scores, discovered_at,
                                         plan.seq, plan.kind)
                self.discovery_costs.append(priced_cost(self.spent))
                best = self.state.best_idx()
                self.bus.emit(ev.CandidateAdded(
                    idx=new_idx, candidate=dict(outcome.child), candidate_hash=self.state.hashes[new_idx],
                    parent_ids=plan.parent_ids, val_scores=dict(outcome.val_scores), val_mean=self.state.mean(new_idx),
                    discovered_at=discovered_at, seq=plan.seq, kind=plan.kind, is_best=best == new_idx,
                    replayed=replayed))
                if best != best_before:
                    self.bus.emit(ev.BestChanged(idx=best, candidate=dict(self.state.candidates[best]),
                                                 val_mean=self.state.mean(best), replayed=replayed))
        if plan.kind == "seed":
            self._check_seed(run)
        self._bookkeep(plan, outcome, new_idx)
        logger.info("Proposal %d (%s, parents %s): %s%s", plan.seq, plan.kind, plan.parent_ids, outcome.status,
                    f" -> candidate #{new_idx}, validation {self.state.mean(new_idx):.4f}" if new_idx is not None
                    else (f" ({outcome.reason})" if outcome.reason else ""))
        self.proposals.append({"seq": plan.seq, "kind": plan.kind, "status": outcome.status,
                               "parents": list(plan.parent_ids), "new_candidate": new_idx,
                               "metric_calls": len(self.committed_at), "usage": usage,
                               "cost": known_cost(usage), "total_cost": priced_cost(self.spent)})
        self.bus.emit(ev.ProposalCommitted(seq=plan.seq, kind=plan.kind, parent_ids=plan.parent_ids, outcome=outcome,
                                           new_candidate_idx=new_idx, metric_calls=len(self.committed_at),
                                           usage=usage, total_cost=priced_cost(self.spent), replayed=replayed))
        self._check_failures()

    def _complete_validation(self, plan: Plan, outcome: ProposalOutcome, replayed: bool) -> None:
        idx = plan.parent_ids[0]
        best_before = self.state.best_idx()
        self.state.complete(idx, outcome.val_scores)
        self.bus.emit(ev.CandidateValidated(idx=idx, val_scores=dict(outcome.val_scores),
                                            val_mean=self.state.mean(idx), replayed=replayed))
        best = self.state.best_idx()
        if best != best_before:
            self.bus.emit(ev.BestChanged(idx=best, candidate=dict(self.state.candidates[best]),
                                         val_mean=self.state.mean(best), replayed=replayed))

    def _check_seed(self, run: _Run) -> None:
        errors = [self.results[k].error for k in sorted(run.keys)]
        if errors and all(errors):
            raise ProgramError(
                f"The program failed on all {len(errors)} validation examples before any optimization, e.g. "
                f"{errors[0]}. Fix the program, its LM configuration or the examples' input fields (.with_inputs(...) "
                "must name what the program's forward takes) first: GEPA cannot learn from a program that never "
                "produces an output.")

    def _bookkeep(self, plan: Plan, outcome: ProposalOutcome, new_idx: int | None) -> None:
        added_by_reflection = plan.kind == "reflective" and new_idx is not None
        self.last_commit_added = added_by_reflection
        if added_by_reflection and self.config.use_merge and \
                self.merge_book.attempts < self.config.max_merge_invocations:
            self.merge_book.due += 1
        if plan.kind != "reflective":
            return
        self.recent_outcomes.append(new_idx is not None)
        # A proposal skipped for a perfect minibatch asked the reflection LM nothing: it neither counts as a
        # failure nor breaks a run of them (or a broken reflection LM hides between perfect minibatches).
        if outcome.status == "skipped_perfect":
            pass
        elif outcome.usable:
            self.consecutive_failures.clear()
        else:
            self.consecutive_failures.append(f"proposal {plan.seq}: {outcome.status}: {outcome.reason}")
        self.consecutive_idle = self.consecutive_idle + 1 if outcome.idle else 0

    def _check_failures(self) -> None:
        limit = self.config.max_consecutive_failures
        if len(self.consecutive_failures) >= limit:
            listing = "\n  ".join(self.consecutive_failures[-limit:])
            raise ReflectionError(
                f"{limit} proposals in a row produced no usable candidate, so the run stops instead of returning "
                f"an unoptimized program as if it were optimized:\n  {listing}\n"
                "Check the reflection LM (key, model name, max_tokens large enough for a whole instruction) or the "
                "custom instruction_proposer. Everything paid for so far is kept in log_dir, if one was given.")

    def _spend(self, usage: dict[str, Any], reflection: dict[str, Any] | None = None) -> None:
        merge(self.spent, usage)
        if reflection is not None:
            self.reflections_paid += 1
            self.reflection_cost += cost(reflection)

    def _per_rollout_cost(self) -> float:
        """Average dollars of a committed rollout (program and judge calls); zero before any."""
        rollouts = len(self.committed_at)
        return cost(self.spent, ("task", "judge")) / rollouts if rollouts else 0.0

    def _cost_allows(self, plan: Plan) -> bool:
        """Whether ``plan`` fits in ``max_cost``: spent by committed work, plus the estimates of the work
        in flight and of ``plan`` (its reservation at the average rollout cost, plus one reflection at the
        average reflection cost), plus the final validation's reserve."""
        cap = self.config.max_cost
        if cap is None:
            return True
        per_rollout = self._per_rollout_cost()
        per_reflection = self.reflection_cost / self.reflections_paid if self.reflections_paid else 0.0
        plan.cost_estimate = per_rollout * plan.reservation + (per_reflection if plan.kind == "reflective" else 0.0)
        reserve = per_rollout * self.final_reserve if plan.kind != "final" else 0.0
        in_flight = sum(run.plan.cost_estimate for run in self.runs.values())
        return cost(self.spent) + in_flight + plan.cost_estimate + reserve <= cap

    def _reserved(self) -> int:
        return sum(run.plan.reservation for run in self.runs.values())

    def _affordable(self, plan: Plan) -> bool:
        return self._fits_calls(plan) and self._cost_allows(plan)

    def _fits_calls(self, plan: Plan) -> bool:
        """Whether ``plan``'s worst case fits. The search may not touch the reserve kept for validating
        the best screened candidate on the whole valset at the end."""
        cap = self.config.max_metric_calls
        if cap is None:
            return True
        if plan.kind != "final":
            cap -= self.final_reserve
        return len(self.committed_at) + self._reserved() + plan.reservation <= cap

    def _stop_message(self, plan: Plan) -> str:
        if not self._fits_calls(plan):
            left = self.config.max_metric_calls - len(self.committed_at)
            return (f"budget exhausted: {left} metric calls left, the next proposal may need {plan.reservation}"
                    + (f" and {self.final_reserve} are kept for the final validation" if self.final_reserve else ""))
        return (f"cost budget exhausted: ${cost(self.spent):.4f} of max_cost=${self.config.max_cost:.4f} spent, the "
                f"next proposal is estimated at up to ${plan.cost_estimate:.4f}")

    def _try_start(self) -> None:
        while not self.stopping:
            k = self.next_seq
            if self.pending is None:
                if self.next_commit < 1 or len(self.runs) >= self._concurrency():
                    return
                if self.searching:
                    reason = self._stop_condition()
                    if reason:
                        self._end_search(reason)
                        continue
                    self.pending = self._plan(k)
                else:
                    if self.runs:
                        return  # final validations start once the search has drained
                    self.pending = self._plan_final(k)
                    if self.pending is None:
                        self._stop()
                        return
            if not self._affordable(self.pending):
                if self.runs:
                    return  # in-flight proposals may release part of their reservations
                if self.searching:
                    self._end_search(self._stop_message(self.pending))
                    continue
                self._stop()
                return
            plan, self.pending = self.pending, None
            self.next_seq += 1
            self._start(plan)

    def _concurrency(self) -> int:
        """How many proposals may be in flight now.

        A proposal planned while others run cannot build on what they find. That costs little when
        most proposals are rejected and a lot when most are accepted, so the limit is about one over
        the acceptance rate of the last proposals: on average about one of the proposals in flight is
        accepted, and when every proposal is accepted they run one at a time, as in the paper's loop.
        It is computed from committed proposals only, so it does not depend on thread timing.
        """
        cap = self.config.max_concurrent_proposals
        if cap == 1 or not self.config.adaptive_concurrency:
            return cap
        recent = self.recent_outcomes[-self.ADAPT_WINDOW:]
        if not recent:
            return 1
        accepted = sum(recent) / len(recent)
        return cap if accepted == 0 else max(1, min(cap, math.floor(1 / accepted)))

    def _end_search(self, reason: str) -> None:
        self.searching = False
        self.stop_reason = reason
        self.pending = None
        logger.info("Search stops: %s.", reason)

    def _stop(self) -> None:
        self.stopping = True
        self.pending = None

    def _plan_final(self, seq: int) -> Plan | None:
        """The best screened candidate not yet validated on every example, if it might beat the best
        validated one (compared on the screen, where both have scores)."""
        state = self.state
        if not self.screen:
            return None
        on_screen = {i: sum(state.val_scores[i][v] for v in self.screen) for i in range(len(state.candidates))}
        best_full = state.best_idx()
        pending = [i for i in on_screen if not state.is_full(i) and on_screen[i] >= on_screen[best_full]]
        if not pending:
            return None
        idx = max(pending, key=lambda i: (on_screen[i], -i))
        return Plan(seq=seq, kind="final", parent_ids=[idx], candidate=dict(state.candidates[idx]),
                    parent_val_scores=[dict(state.val_scores[idx])],
                    reservation=len(self.val_ids) - len(state.val_scores[idx]))

    def _stop_condition(self) -> str:
        limit = max(10, 2 * math.ceil(len(self.trainset) / self.config.minibatch_size))
        if self.consecutive_idle >= limit:
            return (f"converged: the last {self.consecutive_idle} proposals found every minibatch example already "
                    "perfect, or proposed no new text")
        view = StateView(self.state, self.next_seq)
        for callback in self.config.stop_callbacks:
            if callback(view):
                return f"stop condition {getattr(callback, '__name__', type(callback).__name__)} was met"
        return ""

    def _plan(self, seq: int) -> Plan:
        state, cfg = self.state, self.config
        if cfg.use_merge and self.merge_book.due > 0 and self.last_commit_added \
                and self.merge_book.attempts < cfg.max_merge_invocations:
            self.last_commit_added = False
            merge = plan_merge(state, self.merge_book, self.rng, cfg.merge_subsample_size)
            if merge is not None:
                self.merge_book.due -= 1
                self.merge_book.attempts += 1
                return Plan(seq=seq, kind="merge", parent_ids=list(merge.parents), candidate=merge.candidate,
                            parent_val_scores=[dict(state.val_scores[p]) for p in merge.parents],
                            **self._validation_snapshot(), reservation=len(self.screen or self.val_ids),
                            merge=merge)
        parent = CANDIDATE_SELECTORS[cfg.candidate_selection](state, self.rng)
        minibatch = self.sampler.next()
        if cfg.component_selector == "round_robin":
            components = select_round_robin(state, parent)
        elif cfg.component_selector == "all":
            components = select_all(state, parent)
        else:
            components = []  # the custom selector sees the parent's rollouts first
        parent_hash = state.hashes[parent]
        uncached = sum(1 for i in set(minibatch) if RolloutKey(parent_hash, "train", i) not in self.committed_at)
        return Plan(seq=seq, kind="reflective", parent_ids=[parent], candidate=dict(state.candidates[parent]),
                    minibatch=minibatch, components=components,
                    parent_val_scores=[dict(state.val_scores[parent])], **self._validation_snapshot(),
                    reservation=uncached + len(set(minibatch)) + len(self.screen or self.val_ids))

    def _validation_snapshot(self) -> dict[str, Any]:
        """What ``proposals.validate`` compares a child with, frozen when the proposal is planned."""
        if not self.screen:
            return {}
        return {"screen": self.screen, "front_best": self.state.best_score_per_example()}

    # ------------------------------------------------------------------ shutdown

    def _shutdown(self) -> None:
        """Stop dispatching; let rollouts and reflections already running finish so the journal keeps
        what was paid for. A second Ctrl-C abandons them."""
        self.stopping = True
        self._futures -= {f for f in self._futures if f.cancel()}
        if not self._futures:
            return
        logger.warning("Stopping: waiting for %d LM calls in flight so their results are kept "
                       "(press Ctrl-C again to abandon them).", len(self._futures))
        try:
            while self._futures:
                kind, key, future = self._next_item()
                if future not in self._futures:
                    continue  # cancelled above
                self._futures.discard(future)
                if future.exception() is not None:
                    continue  # failed: nothing to keep
                if kind == "rollout" and key in self.waiters:
                    self._rollout_done(key, future.result())
                elif kind == "reflect" and key in self.runs:
                    self._reflection_done(self.runs[key], future.result(), replayed=False)
        except KeyboardInterrupt:
            logger.warning("Abandoned %d LM calls in flight.", len(self._futures))


def _check_texts(texts: Any, components: list[str]) -> ReflectionResult:
    if not isinstance(texts, dict):
        return ReflectionResult(None, f"the proposer returned {type(texts).__name__}, expected a dict of texts")
    unknown = [k for k in texts if k not in components]
    if unknown:
        return ReflectionResult(None, f"the proposer returned texts for components it was not asked for: {unknown}")
    bad = [k for k, v in texts.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        return ReflectionResult(None, f"the proposer returned empty or non-text instructions for {bad}")
    if not texts:
        return ReflectionResult(None, f"the proposer returned no text for {components}")
    return ReflectionResult({k: v.strip() for k, v in texts.items()})
