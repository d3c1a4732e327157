"""The run loop: starts proposals, feeds them the results they ask for, commits them in order.

How it stays deterministic with several proposals in flight:

* Proposals commit strictly in order of their sequence number (:mod:`~dspy_gepa.engine.commit`), and new
  proposals are planned and started only right after a commit (proposal 0 is the seed's validation),
  from the state at that moment (:mod:`~dspy_gepa.engine.planner`). So what a proposal sees never
  depends on thread timing; with one in flight this is the paper's loop.
* A speculative proposal (``staged`` policy) asks before evaluating its child (a ``Confirm`` request); it is
  answered when the proposal is next to commit, from committed work only, so the answer does not depend on
  thread timing either.
* The budget is reserved before work starts (:mod:`~dspy_gepa.engine.ledger`), so
  ``total_metric_calls <= max_metric_calls`` at every instant.
* Every rollout key runs at most once (:mod:`~dspy_gepa.engine.rollouts`); a resumed run serves recorded
  rollouts and reflections from the journal.
* The search ends on a budget or a stop condition; with the ``staged`` validation policy, the best
  screened candidates are then validated on every example (:meth:`Planner.plan_final`).

Rollouts run on the backend (:mod:`~dspy_gepa.engine.backends`: threads, an event loop or a Ray
cluster, ``num_threads`` rollouts in flight) and reflections on the reflection pool; their results come
back through one queue to the thread that called :meth:`Engine.run` (the driver), which alone changes
the state, the ledger and the journal. Which backend ran a rollout changes nothing above it.
"""

from __future__ import annotations

import contextvars
import logging
import queue
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dspy_gepa._run_dir import JOURNAL
from dspy_gepa.engine import events as ev
from dspy_gepa.engine.adapter import codec_of
from dspy_gepa.engine.backends import Backend, Halted, ThreadBackend
from dspy_gepa.engine.budget import budget_plan
from dspy_gepa.engine.commit import Committer, idle_limit
from dspy_gepa.engine.config import EngineConfig
from dspy_gepa.engine.journal import FileJournal, JournalRecorder, run_fingerprint
from dspy_gepa.engine.ledger import Ledger, final_reserve
from dspy_gepa.engine.merge import MergeBook
from dspy_gepa.engine.planner import Planner
from dspy_gepa.engine.proposals import (
    Confirm,
    Evaluate,
    Judge,
    Plan,
    Reflect,
    Run,
    final_validation,
    merge_proposal,
    reflective_proposal,
    seed_proposal,
)
from dspy_gepa.engine.reflection import Reflector
from dspy_gepa.engine.replay import check_fingerprint, load
from dspy_gepa.engine.rollouts import Rollouts
from dspy_gepa.engine.state import State
from dspy_gepa.engine.strategies import GroupJudge, acceptance_criterion
from dspy_gepa.engine.types import Candidate, Rollout, RolloutKey, candidate_hash
from dspy_gepa.engine.usage import merge
from dspy_gepa.exceptions import ConfigurationError

logger = logging.getLogger(__name__)

#: Fingerprint key of a run whose seed was screened (:func:`~dspy_gepa.engine.ledger.seed_screened`).
SEED_SCREENED = "seed_screened"


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


class Engine:
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
        backend: Backend | None = None,
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
        self.backend = backend if backend is not None else ThreadBackend()

        self.val_ids = list(range(len(self.valset)))
        self.state = State(component_names=list(self.seed_candidate), val_ids=self.val_ids,
                           frontier_type=config.frontier_type)
        self.ledger = Ledger(config.max_metric_calls, config.max_cost,
                             final_reserve(len(self.val_ids), config.screen_size(len(self.val_ids))))
        self.merge_book = MergeBook()
        self.rollouts = Rollouts(adapter, self.codec, self.trainset, self.valset, self.ledger, self.bus,
                                 keep_val_outputs=config.keep_val_outputs, on_ready=self._resume_later)
        self.reflector = Reflector(adapter, self.rollouts, self.bus, on_ready=self._resume_later)
        self.committer = Committer(self.state, self.ledger, self.rollouts, self.merge_book, self.bus,
                                   use_merge=config.use_merge, max_merge_invocations=config.max_merge_invocations,
                                   max_consecutive_failures=config.max_consecutive_failures,
                                   idle_limit=idle_limit(len(self.trainset), config.minibatch_size))
        self.planner = Planner(config, self.state, self.ledger, self.committer.progress, self.merge_book,
                               self.trainset, self.val_ids)
        self.judge = GroupJudge(acceptance_criterion(config.acceptance), config.selection, self.planner.view)

        self.runs: dict[int, Run] = {}
        self.finished: dict[int, Run] = {}
        self.parked: dict[int, Run] = {}
        self.next_seq = 0
        self.next_commit = 0
        self.pending: Plan | None = None
        self.stopping = False
        self.searching = True
        self.stop_reason = ""
        self._ready: deque[tuple[Run, Any]] = deque()
        self._queue: queue.Queue = queue.Queue()
        self._futures: set[Future] = set()
        self._journal: JournalRecorder | None = None

    # ------------------------------------------------------------------ setup

    def fingerprint(self) -> dict[str, Any]:
        fingerprint = run_fingerprint(self.config.fingerprint(), self.seed_candidate, self.trainset, self.valset,
                                      self.codec, self.fingerprint_extra)
        if self.planner.seed_screened:  # absent otherwise, so journals written before this setting still match
            fingerprint[SEED_SCREENED] = True
        return fingerprint

    def _open_journal(self) -> bool:
        """Lock ``log_dir`` (before anything is read or spent), load and check its journal, open it for appends."""
        if self.log_dir is None:
            return False
        backend = FileJournal(self.log_dir / JOURNAL)
        backend.lock()
        self._journal = JournalRecorder(backend, self.codec)
        contents = load(backend, val_outputs=self.config.keep_val_outputs)
        if contents.header is not None:
            # How the seed was validated is the first session's decision (a resumed run may have another budget).
            self.planner.seed_screened = bool(contents.header.get("fingerprint", {}).get(SEED_SCREENED))
        fingerprint = self.fingerprint()
        if contents.header is not None:
            check_fingerprint(contents.header.get("fingerprint", {}), fingerprint, backend.path)
        self.rollouts.journal = contents
        backend.open()
        self._journal.start(fingerprint, contents.header)
        self.bus.subscribe(self._journal, critical=True)
        return contents.header is not None and contents.num_records > 1

    # ------------------------------------------------------------------ running

    def run(self) -> EngineResult:
        """Run the optimization; the journal (and the ``log_dir`` lock) is closed however the run ends."""
        try:
            return self._run(self._open_journal())
        finally:
            if self._journal is not None:
                self._journal.close()

    def _run(self, resumed: bool) -> EngineResult:
        journal = self.rollouts.journal
        if resumed:
            logger.info("Resuming from %s: %d recorded rollouts and %d reflections will be replayed without LM "
                        "calls.", self.log_dir, len(journal.rollouts), len(journal.reflections))
        cfg = self.config
        if cfg.max_metric_calls is not None and cfg.max_metric_calls < len(self.valset):
            raise ConfigurationError(
                f"max_metric_calls={cfg.max_metric_calls} cannot pay for validating the seed program on the "
                f"{len(self.valset)} validation examples. Raise the budget or use a smaller valset.")
        # The backend starts, and one short call goes to each LM, before anything is spent: a cluster that
        # cannot be reached, a bad key or model fails now.
        try:
            self.backend.start(self.adapter, cfg.num_threads, self.seed_candidate)
            preflight_usage = self.preflight() if self.preflight is not None else None
        except BaseException:
            self.backend.close()
            raise
        plan_text = budget_plan(cfg.max_metric_calls, len(self.trainset), len(self.valset), cfg.minibatch_size,
                                len(self.planner.screen or self.valset))
        logger.info(plan_text)
        self.bus.emit(ev.RunStarted(
            config={**cfg.fingerprint(), "num_threads": cfg.num_threads, "max_metric_calls": cfg.max_metric_calls,
                    "max_cost": cfg.max_cost, "backend": self.backend.name},
            seed_candidate=dict(self.seed_candidate), train_size=len(self.trainset), val_size=len(self.valset),
            max_metric_calls=cfg.max_metric_calls, plan=plan_text, resumed=resumed))
        # Spending recorded outside proposals (pre-flight checks), this session's and earlier sessions'.
        for record in journal.usage:
            merge(self.ledger.spent, record.get("usage"))
        if preflight_usage:
            merge(self.ledger.spent, preflight_usage)
            self.bus.emit(ev.UsageRecorded(usage=preflight_usage, reason="pre-flight checks"))
        reflect_pool = ThreadPoolExecutor(cfg.max_concurrent_proposals, thread_name_prefix="gepa-reflect")
        self.rollouts.dispatch = self._dispatch
        self.reflector.submit = lambda seq, fn, *args: self._submit(reflect_pool, ("reflect", seq), fn, *args)
        try:
            self._start(self.planner.plan_seed(self.seed_candidate))
            self.next_seq = 1
            self._pump()
            while self.runs:
                self._process(self._next_item())
        except BaseException as exc:
            self._shutdown()
            # What was paid for and recorded (rollouts cancelled or halted before running are not).
            self.bus.emit(ev.RunFailed(error=exc, total_metric_calls=self.rollouts.recorded))
            raise
        finally:
            self.backend.close()
            reflect_pool.shutdown(wait=False, cancel_futures=True)
        return self._finish()

    def _finish(self) -> EngineResult:
        if not self.stop_reason:
            self.stop_reason = "no further proposal could start"
        state, progress, used = self.state, self.committer.progress, self.ledger.dispatched
        best = state.best_idx()
        reflections = [p["status"] for p in progress.proposals if p["kind"] == "reflective" and
                       p["status"] != "skipped_perfect"]
        unusable = reflections.count("reflection_failed")
        if unusable:
            logger.warning("%d of %d reflections could not be used (never adopted; each reason is in the log and in "
                           "detailed_results.proposals).", unusable, len(reflections))
        if best == 0 and len(state.candidates) > 0:
            logger.warning("GEPA found no program better than the seed on the validation set (%s); the seed's "
                           "instructions are returned unchanged.", self.stop_reason)
        logger.info("GEPA finished (%s): %d candidates, best #%d with validation score %.4f, %d metric calls.",
                    self.stop_reason, len(state.candidates), best, state.mean(best), used)
        self.bus.emit(ev.RunFinished(best_idx=best, best_val_mean=state.mean(best), total_metric_calls=used,
                                     num_candidates=len(state.candidates),
                                     num_full_val_evals=state.num_full_val_evals, stop_reason=self.stop_reason))
        return EngineResult(state, used, self.stop_reason, self.rollouts.results, self.ledger.spent,
                            progress.proposals, progress.discovery_costs)

    def _submit(self, pool: ThreadPoolExecutor, tag: tuple[str, Any], fn: Callable[..., Any], *args: Any) -> None:
        self._watch(tag, pool.submit(contextvars.copy_context().run, fn, *args))

    def _dispatch(self, candidate: Candidate, keys: list[RolloutKey], examples: list[Any], traces: bool) -> None:
        for key, future in zip(keys, self.backend.run(candidate, examples, traces), strict=True):
            self._watch(("rollout", key), future)

    def _watch(self, tag: tuple[str, Any], future: Future) -> None:
        """Hand ``future``'s outcome to the driver's queue when it is done."""
        self._futures.add(future)
        future.add_done_callback(lambda f: self._queue.put((*tag, f)))

    def _next_item(self) -> tuple:
        while True:
            try:
                return self._queue.get(timeout=0.25)
            except queue.Empty:
                continue

    def _process(self, item: tuple) -> None:
        kind, key, future = item
        self._futures.discard(future)
        if not future.cancelled() and isinstance(future.exception(), Halted):
            raise future.exception().cause
        if kind == "rollout":
            self.rollouts.done(key, future.result())
        else:
            self.reflector.done(self.runs[key], future.result(), replayed=False)
        self._pump()

    # ------------------------------------------------------------------ proposals

    def _start(self, plan: Plan) -> None:
        if plan.kind == "seed":
            gen = seed_proposal(plan, self.val_ids)
        elif plan.kind == "final":
            gen = final_validation(plan, self.val_ids)
        elif plan.kind == "merge":
            gen = merge_proposal(plan, self.val_ids, self._known_at_plan())
        else:
            chooser = None
            if not plan.components:
                def chooser(rollouts: list[Rollout], _plan: Plan = plan) -> list[str]:
                    trajectories = [self.rollouts.trajectory(r, i) for r, i in zip(rollouts, _plan.minibatch,
                                                                                    strict=True)]
                    return self.planner.custom_components(_plan, trajectories, rollouts)
            gen = reflective_proposal(plan, self.val_ids, skip_perfect_score=self.config.skip_perfect_score,
                                      perfect_score=self.config.perfect_score, choose_components=chooser,
                                      known_candidates=self._known_at_plan())
        run = Run(plan=plan, gen=gen, start_commits=self.next_commit)
        self.runs[plan.seq] = run
        self.judge.started(run)
        self.ledger.reserve(plan)
        self.bus.emit(ev.ProposalStarted(seq=plan.seq, kind=plan.kind, parent_ids=plan.parent_ids,
                                         minibatch=plan.minibatch, components=plan.components,
                                         iteration=plan.iteration,
                                         replayed=plan.seq in self.rollouts.journal.commits))
        self._ready.append((run, None))

    def _known_at_plan(self) -> Callable[[Candidate], bool]:
        """Candidates already in the pool or already tried and turned down (as of planning): proposing one
        again teaches nothing, and would only re-read cached scores while the reflection LM is paid. Every
        pool member was tried first, and ``tried`` holds the commit that tried each hash, so no copy is needed."""
        tried, commits = self.committer.progress.tried, self.next_commit
        return lambda c: tried.get(candidate_hash(c), commits) < commits

    def _resume_later(self, run: Run, value: Any) -> None:
        """Queue ``run``'s generator to be sent ``value`` (the results it asked for) by :meth:`_pump`."""
        self._ready.append((run, value))

    def _pump(self) -> None:
        while self._ready:
            run, value = self._ready.popleft()
            try:
                request = run.gen.send(value)
            except StopIteration as stop:
                run.outcome = stop.value
                self.finished[run.plan.seq] = run
                self._ready.extend(self.judge.ended(run))
                self._commit_ready()
                continue
            if isinstance(request, Evaluate):
                self.rollouts.request(run, request)
            elif isinstance(request, Reflect):
                self.reflector.request(run, request)
            elif isinstance(request, Confirm):
                # Proposals of one group were planned together on purpose (a sampling strategy) and are judged
                # together: they go on at once.
                if not self.config.speculative or run.plan.group is not None or run.plan.seq == self.next_commit:
                    self._ready.append((run, run.plan.group is not None or self.planner.still_valid(run.plan)))
                else:
                    self.parked[run.plan.seq] = run  # answered when it is next to commit
            elif isinstance(request, Judge):
                self._ready.extend(self.judge.arrived(run, request.proposal))
            else:  # pragma: no cover - a programming error in a proposal
                raise TypeError(f"proposal yielded {request!r}")

    # ------------------------------------------------------------------ commits and starts

    def _commit_ready(self) -> None:
        while self.next_commit in self.finished:
            run = self.finished.pop(self.next_commit)
            self.committer.commit(run, self.next_commit)
            del self.runs[run.plan.seq]
            self.ledger.release(run.plan)
            self.next_commit += 1
            head = self.parked.pop(self.next_commit, None)
            if head is not None:
                self._ready.append((head, self.planner.still_valid(head.plan)))
            self._try_start()

    def _try_start(self) -> None:
        ledger, planner = self.ledger, self.planner
        while not self.stopping:
            if self.pending is None and planner.queued:
                self.pending = planner.plan(self.next_seq)  # the rest of an iteration planned as a group
            if self.pending is None:
                if self.next_commit < 1 or len(self.runs) >= planner.concurrency():
                    return
                if any(run.plan.group is not None for run in self.runs.values()):
                    return  # the next iteration starts once a group's proposals have all committed
                if self.searching:
                    reason = planner.stop_condition()
                    if reason:
                        self._end_search(reason)
                        continue
                    self.pending = planner.plan(self.next_seq)
                else:
                    if self.runs:
                        return  # final validations start once the search has drained
                    self.pending = planner.plan_final(self.next_seq)
                    if self.pending is None:
                        self._stop()
                        return
            if not ledger.affordable(self.pending):
                if self.pending.group is not None and self.pending.group != self.pending.seq:
                    # The group's members in flight wait for one another: go on without the rest.
                    group, self.pending = self.pending.group, None
                    planner.queued.clear()
                    self._ready.extend(self.judge.truncated(group))
                    continue
                if self.runs:
                    return  # in-flight proposals may release part of their reservations
                if self.searching:
                    self._end_search(ledger.stop_message(self.pending))
                    continue
                self._stop()
                return
            plan, self.pending = self.pending, None
            self.next_seq += 1
            self._start(plan)

    def _end_search(self, reason: str) -> None:
        self.searching = False
        self.stop_reason = reason
        self.pending = None
        self.planner.queued.clear()
        logger.info("Search stops: %s.", reason)

    def _stop(self) -> None:
        self.stopping = True
        self.pending = None

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
                if kind == "rollout" and key in self.rollouts.waiters:
                    self.rollouts.done(key, future.result())
                elif kind == "reflect" and key in self.runs:
                    self.reflector.done(self.runs[key], future.result(), replayed=False)
        except KeyboardInterrupt:
            logger.warning("Abandoned %d LM calls in flight.", len(self._futures))
