"""A run as the report sees it: :func:`build_run` folds journal records into a :class:`RunView`.

The folding is :class:`RunFolder`, one record at a time, so the live dashboard
(:mod:`dspy_gepa.tracking.live`) can fold only what a growing journal appended since it last looked;
the view also lists the proposals in flight (started, not yet committed).

Only the journal's JSON lines are read (``log_dir/journal.jsonl``, streamed through
:func:`dspy_gepa.engine.replay.read_records`, or records kept in memory during a run without
``log_dir``), so a run can be viewed while it is still writing: a torn last line is skipped. Rollout
payloads (outputs, trajectories) are never kept, so viewing a long run costs little more memory than its
candidates and scores. Pareto
fronts and the best candidate come from :mod:`dspy_gepa.engine.pareto`, the rules the engine itself
uses, so the report can never disagree with the run's result.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dspy_gepa._run_dir import journal_path
from dspy_gepa.engine import pareto
from dspy_gepa.engine.replay import paused_gc, read_records
from dspy_gepa.exceptions import JournalError
from dspy_gepa.tracking._cost import CostMeter


@dataclass
class CandidateView:
    idx: int
    hash: str
    texts: dict[str, str]
    parents: list[int]
    seq: int
    kind: str
    val_mean: float
    discovered_at: int
    val_scores: dict[int, float]
    cost_at: float | None = None
    objectives: dict[str, float] = field(default_factory=dict)  # mean per objective (multi-objective metrics)


@dataclass
class InFlight:
    """A proposal that has started (rollouts or a reflection recorded) and not yet committed."""

    seq: int
    rollouts: int = 0
    parent_hash: str | None = None
    components: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RunView:
    """What the report shows, derived from journal records."""

    source: str = ""
    status: str = "running"  # "finished" | "failed" | "running" (or interrupted)
    stop_reason: str | None = None
    error: str | None = None
    fingerprint: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    plan: str | None = None
    max_metric_calls: int | None = None
    train_size: int | None = None
    val_size: int | None = None
    components: list[str] = field(default_factory=list)
    sessions: int = 0
    candidates: list[CandidateView] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    metric_calls: int = 0
    cost: float | None = None
    val_rollouts: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)  # feedback and error
    inflight: list[InFlight] = field(default_factory=list)

    @property
    def best_idx(self) -> int | None:
        """The best candidate validated on every example (screened-only candidates cannot be returned):
        :func:`dspy_gepa.engine.pareto.best_index`."""
        if not self.candidates:
            return None
        full = [c.idx for c in self.candidates if self.val_size is None or len(c.val_scores) == self.val_size]
        return pareto.best_index({c.idx: c.val_mean for c in self.candidates}, full)

    @property
    def best(self) -> CandidateView | None:
        return self.candidate(self.best_idx) if self.best_idx is not None else None

    @property
    def seed(self) -> CandidateView | None:
        return self.candidate(0)

    def candidate(self, idx: int) -> CandidateView | None:
        for c in self.candidates:
            if c.idx == idx:
                return c
        return None

    @property
    def val_ids(self) -> list[int]:
        return sorted({vid for c in self.candidates for vid in c.val_scores})

    def fronts(self) -> dict[int, list[int]]:
        """For each validation example every candidate was scored on, the candidates reaching the best
        score on it (:func:`dspy_gepa.engine.pareto.fronts`, as the engine computes them)."""
        table = {c.idx: c.val_scores for c in self.candidates}
        return {vid: sorted(members) for vid, members in pareto.fronts(table).items()}

    def front_counts(self) -> dict[int, int]:
        """Candidates on at least one example's front, with on how many."""
        return pareto.front_counts(self.fronts())

    def commit_for(self, seq: int) -> dict[str, Any] | None:
        for c in self.commits:
            if c.get("seq") == seq:
                return c
        return None

    def proposals(self, *kinds: str) -> int:
        """How many committed proposals are of one of ``kinds`` ("reflective", "merge")."""
        return sum(1 for c in self.commits if c.get("kind") in kinds)

    @property
    def accepted(self) -> int:
        """Proposals whose child was added as a candidate."""
        return sum(1 for c in self.commits if c.get("status") in ("accepted", "merge_accepted"))

    def curve(self) -> list[tuple[int, float, float | None]]:
        """(metric calls at discovery, best validation score so far, cost so far) per new best."""
        points: list[tuple[int, float, float | None]] = []
        best = -math.inf
        for c in sorted(self.candidates, key=lambda c: (c.discovered_at, c.idx)):
            if pareto.sortable(c.val_mean) > best:
                best = pareto.sortable(c.val_mean)
                points.append((c.discovered_at, c.val_mean, c.cost_at))
        return points

    def changed_components(self, c: CandidateView) -> list[str]:
        """Components whose text differs from every parent's; for a merge, also where each component the
        parents disagree on came from (``name←#idx``)."""
        if not c.parents:
            return []
        parents = [p for p in (self.candidate(i) for i in c.parents) if p is not None]
        changed = [k for k, v in c.texts.items() if all(p.texts.get(k) != v for p in parents)]
        if len(parents) > 1:
            for k, v in c.texts.items():
                if k not in changed and len({p.texts.get(k) for p in parents}) > 1:
                    changed.append(f"{k}←#{next(p.idx for p in parents if p.texts.get(k) == v)}")
        return changed


def mean(xs: Sequence[float] | None) -> float | None:
    """The mean of the numbers in ``xs`` (a proposal's minibatch scores), ``None`` when there are none."""
    xs = [x for x in (xs or []) if isinstance(x, int | float)]
    return sum(xs) / len(xs) if xs else None


def _objectives(record: dict[str, Any]) -> dict[str, float]:
    """A candidate record's objective means (absent for single-objective metrics)."""
    raw = record.get("objectives")
    return {str(k): _float(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class RunFolder:
    """Folds journal records into a :class:`RunView` one at a time, so a reader that follows a growing
    journal (the live dashboard) pays only for the records that are new. :func:`build_run` folds a whole
    journal with it. Unknown record types and fields are ignored."""

    def __init__(self, source: str = "") -> None:
        self.run = RunView(source=source)
        self.records = 0
        self._meter = CostMeter()
        self._candidates: dict[int, CandidateView] = {}
        self._commits: dict[int, dict[str, Any]] = {}
        self._rollout_keys: set[tuple] = set()
        self._inflight: dict[int, InFlight] = {}

    def add(self, record: Any) -> None:
        """Fold one record."""
        if not isinstance(record, dict):
            return
        self.records += 1
        run = self.run
        kind = record.get("type")
        self._meter.observe_record(record)
        if kind == "rollout":  # most records
            key = record.get("key") or [None, None, None]
            self._rollout_keys.add(tuple(key))
            if len(key) == 3 and key[1] == "val" and (record.get("feedback") or record.get("error")):
                run.val_rollouts[(key[0], int(key[2]))] = {"feedback": record.get("feedback"),
                                                          "error": record.get("error")}
            self._touch(record).rollouts += 1
        elif kind == "header":
            run.fingerprint = dict(record.get("fingerprint") or {})
        elif kind == "run_started":
            run.sessions += 1
            run.status, run.stop_reason, run.error = "running", None, None
            run.config = dict(record.get("config") or {})
            run.plan = record.get("plan")
            run.max_metric_calls = record.get("max_metric_calls")
            run.train_size = record.get("train_size")
            run.val_size = record.get("val_size")
            run.components = list((record.get("seed_candidate") or {}).keys()) or run.components
            # Proposals of an earlier session that never committed were lost with it (a resume redoes them).
            self._inflight.clear()
        elif kind == "reflection":
            flight = self._touch(record)
            flight.parent_hash = record.get("parent")
            flight.components = list(record.get("components") or [])
            flight.texts = dict(record.get("texts") or {})
            flight.error = record.get("error")
        elif kind == "candidate":
            try:
                idx = int(record["idx"])
            except (KeyError, TypeError, ValueError):
                return
            self._candidates[idx] = CandidateView(
                idx=idx, hash=str(record.get("hash", "")), texts=dict(record.get("texts") or {}),
                parents=[int(p) for p in record.get("parents") or [] if p is not None],
                seq=int(record.get("seq", -1)), kind=str(record.get("kind", "")),
                val_mean=_float(record.get("val_mean")), discovered_at=int(record.get("discovered_at") or 0),
                val_scores=_scores(record.get("val_scores")), cost_at=self._meter.total,
                objectives=_objectives(record))
        elif kind == "validated":
            try:
                view = self._candidates[int(record["idx"])]
            except (KeyError, TypeError, ValueError):
                return
            view.val_scores = _scores(record.get("val_scores"))
            view.val_mean = _float(record.get("val_mean"))
            view.objectives = _objectives(record) or view.objectives
        elif kind == "commit":
            seq = int(record.get("seq", len(self._commits)))
            self._commits[seq] = record
            self._inflight.pop(seq, None)
        elif kind == "run_finished":
            run.status, run.stop_reason = "finished", record.get("stop_reason")
            self._inflight.clear()
        elif kind == "run_failed":
            run.status, run.error = "failed", record.get("error")
            self._inflight.clear()

    def _touch(self, record: dict[str, Any]) -> InFlight:
        """The in-flight entry of the proposal that ``record`` belongs to (a scratch one for records that
        belong to no proposal, or to one already committed)."""
        seq = record.get("seq")
        if not isinstance(seq, int) or seq < 0 or seq in self._commits:
            return InFlight(seq=-1)
        flight = self._inflight.get(seq)
        if flight is None:  # not setdefault: an InFlight built per rollout record cost a tenth of a report
            flight = self._inflight[seq] = InFlight(seq=seq)
        return flight

    def view(self) -> RunView:
        """The run as folded so far (the same object each time, brought up to date)."""
        run = self.run
        run.candidates = [self._candidates[i] for i in sorted(self._candidates)]
        run.commits = [self._commits[s] for s in sorted(self._commits)]
        run.inflight = [self._inflight[s] for s in sorted(self._inflight)]
        run.metric_calls = len(self._rollout_keys)
        run.cost = self._meter.total
        if not run.components and run.candidates:
            run.components = list(run.candidates[0].texts)
        return run


def _scores(raw: Any) -> dict[int, float]:
    scores = {}
    for k, v in (raw or {}).items():
        try:
            scores[int(k)] = _float(v)
        except ValueError:
            continue
    return scores


def build_run(records: Iterable[dict[str, Any]], source: str = "") -> RunView:
    """Fold journal records into a :class:`RunView`; unknown record types and fields are ignored."""
    folder = RunFolder(source)
    with paused_gc():  # records are small trees; full collections over DSPy's heap would dominate
        for record in records:
            folder.add(record)
    return folder.view()


def load_run(log_dir: str | os.PathLike) -> RunView:
    """Read ``log_dir/journal.jsonl`` (a directory or the journal file itself)."""
    path = journal_path(log_dir)
    if not path.exists():
        raise JournalError(f"No journal at {path}. Pass the log_dir of a GEPA run (GEPA(log_dir=...)).")
    return build_run(read_records(path, payloads=False), source=str(path.parent))
