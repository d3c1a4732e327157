"""SIGKILL a GEPA run at many points (inside LM calls, between journal lines, in the middle of a journal
line, while best_program.json is saved, at random moments), resume it from log_dir each time, and check
that the chain ends exactly where an uninterrupted run ends, with no recorded rollout lost or run twice.

The target is ``run_target.py`` (scripted LMs, a rollout ledger kept by the program itself, kill points
set through ``FAULT_KILL``). Per chain of sessions the ledger tells, for every rollout that ran, which
session ran it; the journal after each kill tells what was recorded by then. From the two:

* *recorded rollouts redone*: a rollout run in a session although an earlier session had recorded it;
* *recorded rollouts lost*: a rollout recorded after some kill but missing from the final journal;
* *in flight at a kill*: a rollout run in a session that was killed before recording it (paid work the
  kill destroyed; the next session runs it again). Counted, not a failure.

Run with ``-s`` to see each chain's tally. A kill "with progress" is one after which the journal holds
more work than before the session (a kill right after a resume may have nothing new to cut into).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import run_target

pytestmark = pytest.mark.slow

TARGET = Path(run_target.__file__)
ROOT = TARGET.parents[2]
RESULT_KEYS = ("candidate_texts", "parents", "val_subscores", "discovery_eval_counts", "total_metric_calls",
               "best_idx", "best_instructions")


#: Records a session writes whatever it does; anything else is progress.
_BOOKKEEPING = {"header", "run_started", "usage"}


def journal_state(log_dir: Path) -> tuple[set[tuple[str, str]], list[tuple[str, str]], bool, int]:
    """(recorded rollout keys as (candidate hash, word), every rollout record in order, torn tail?, number
    of complete records that are work: rollouts, reflections, candidates, commits, ...)."""
    path = log_dir / "journal.jsonl"
    if not path.exists():
        return set(), [], False, 0
    raw = path.read_bytes()
    torn = bool(raw) and not raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]  # complete lines only
    records, work = [], 0
    for line in lines:
        record = json.loads(line)
        work += record["type"] not in _BOOKKEEPING
        if record["type"] == "rollout":
            cand, split, idx = record["key"]
            words = run_target.TRAIN_WORDS if split == "train" else run_target.VAL_WORDS
            records.append((cand, words[idx]))
    return set(records), records, torn, work


@dataclass
class Chain:
    """A log_dir resumed session after session; each session may be killed."""

    root: Path
    sessions: int = 0
    kills: int = 0
    kills_with_progress: int = 0
    torn_seen: int = 0
    torn_tolerated: int = 0
    progress_at_kill: list[float] = field(default_factory=list)
    recorded_after: list[set[tuple[str, str]]] = field(default_factory=list)
    kill_specs: list[str] = field(default_factory=list)
    _torn_pending: bool = False
    _work: int = 0

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.txt"

    @property
    def out(self) -> Path:
        return self.root / "result.json"

    def start(self, kill: str | None) -> subprocess.Popen:
        env = {**os.environ, "FAULT_SESSION": str(self.sessions), "PYTHONPATH": str(ROOT)}
        env.pop("FAULT_KILL", None)
        if kill:
            env["FAULT_KILL"] = kill
        return subprocess.Popen([sys.executable, str(TARGET), str(self.log_dir), str(self.ledger), str(self.out)],
                                env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self, proc: subprocess.Popen, spec: str, *, timeout: float = 120) -> bool:
        """Wait for a session; book-keep its kill. True when the run finished."""
        _, err = proc.communicate(timeout=timeout)
        work_before = self._work
        if self._torn_pending:
            assert "torn" in err, f"the torn journal line left by the last kill was not reported:\n{err[-2000:]}"
            self.torn_tolerated += 1
            self._torn_pending = False
        recorded, _, torn, self._work = journal_state(self.log_dir)
        self.recorded_after.append(recorded)
        self.sessions += 1
        if proc.returncode == 0:
            assert not torn
            return True
        assert proc.returncode == -9, f"session {self.sessions - 1} ({spec}) failed:\n{err[-3000:]}"
        self.kills += 1
        self.kill_specs.append(spec)
        if torn:
            self.torn_seen += 1
            self._torn_pending = True
        if self._work > work_before:
            self.kills_with_progress += 1
        return False

    def run(self, kill: str | None = None) -> bool:
        return self.finish(self.start(kill), kill or "none")

    def killed_at(self, total_rollouts: int) -> None:
        self.progress_at_kill.append(len(self.recorded_after[-1]) / total_rollouts)

    def tally(self) -> dict[str, int]:
        """Check the ledger against the journals; return the counts."""
        ledger = [line.split() for line in self.ledger.read_text().splitlines()]
        final, records, torn, _ = journal_state(self.log_dir)
        assert not torn
        assert len(records) == len(final), "a rollout is recorded twice in the final journal"
        redone = [(c, w, s) for c, w, s in ledger if int(s) > 0 and (c, w) in self.recorded_after[int(s) - 1]]
        in_flight = [(c, w, s) for c, w, s in ledger if (c, w) not in self.recorded_after[int(s)]]
        lost = set().union(*self.recorded_after) - final
        ran = Counter((c, w) for c, w, _ in ledger)
        assert set(ran) >= final, "the journal records rollouts that never ran"
        assert redone == [], f"recorded rollouts were run again: {redone[:5]}"
        assert lost == set(), f"recorded rollouts were lost: {sorted(lost)[:5]}"
        # Every recorded rollout ran once, plus once per time a kill cut it off in flight.
        cut = Counter((c, w) for c, w, _ in in_flight)
        assert all(ran[k] == 1 + cut[k] for k in final), "a rollout ran more often than kills explain"
        return {"sessions": self.sessions, "kills": self.kills, "kills_with_progress": self.kills_with_progress,
                "torn_lines_seen": self.torn_seen, "torn_lines_tolerated": self.torn_tolerated,
                "rollouts_run": len(ledger), "rollouts_recorded": len(final), "in_flight_at_kill": len(in_flight),
                "recorded_redone": len(redone), "recorded_lost": len(lost)}

    def check_result(self, reference: dict) -> None:
        result = json.loads(self.out.read_text())
        for key in RESULT_KEYS:
            assert result[key] == reference[key], f"{key} differs from the uninterrupted run"
        saved = json.loads((self.log_dir / "best_program.json").read_text())
        assert {name: state["signature"]["instructions"] for name, state in saved.items() if name != "metadata"} \
            == reference["best_instructions"]
        leftovers = [p.name for p in self.log_dir.iterdir() if p.name.startswith(".")]
        assert leftovers == [], f"temporary files left in log_dir: {leftovers}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The uninterrupted run, and what its journal holds."""
    chain = Chain(tmp_path_factory.mktemp("reference"))
    assert chain.run()
    result = json.loads(chain.out.read_text())
    recorded, records, _, lines = journal_state(chain.log_dir)
    types = Counter(json.loads(line)["type"] for line in (chain.log_dir / "journal.jsonl").read_text().splitlines())
    assert len(records) == result["total_metric_calls"] == len(chain.ledger.read_text().splitlines())
    assert types["reflection"] >= 15 and types["candidate"] >= 8  # a run with enough going on to cut into
    assert any(len(p) == 2 for p in result["parents"]), "the reference run has no merge"
    return {**result, "journal_lines": lines, "rollouts": len(records), "reflections": types["reflection"]}


def report(name: str, counts: dict, chain: Chain) -> None:
    print(f"\n[{name}] " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    print(f"[{name}] kill points: {', '.join(chain.kill_specs)}")


def best_changes(log_dir: Path) -> int:
    """How many times the best candidate changed in the journal so far (each change saves best_program.json,
    also when a resumed run replays it)."""
    best, changes = None, 0
    for line in (log_dir / "journal.jsonl").read_bytes().split(b"\n")[:-1]:
        record = json.loads(line)
        if record["type"] == "candidate" and (best is None or record["val_mean"] > best):
            best, changes = record["val_mean"], changes + 1
    return changes


def test_chain_of_kills_spread_over_the_run(reference, tmp_path):
    """30 kills of eight kinds, each session resuming the last one's log_dir, aimed at points spread from
    the first lines of the journal to its end (seeded jitter); then one session runs to the end."""
    rng = random.Random(7)
    chain = Chain(tmp_path)
    total, kills = reference["rollouts"], 30
    per_line = reference["journal_lines"] / total
    per_reflection = reference["reflections"] / total
    kinds = ["journal", "torn", "rollout", "reflect", "torn:rollout", "journal:commit", "torn:commit", "save"]
    for i in range(kills):
        # Aim at an even share of what is left (with jitter), so kills stay spread to the very end.
        done = len(chain.recorded_after[-1]) if chain.recorded_after else 0
        need = max(1, round((total - done) / (kills - i + 1) * rng.uniform(0.5, 1.5)))
        kind = kinds[i % len(kinds)]
        if i >= 20 and kind in ("reflect", "save"):
            kind = "journal"  # late in the run there may be no reflection or new best left to kill in
        if kind in ("journal", "torn"):
            spec = f"{kind}:{max(1, round(need * per_line))}"
        elif kind == "rollout":
            spec = f"rollout:{need}"
        elif kind == "torn:rollout":
            spec = f"torn:{need}:rollout"
        elif kind == "reflect":
            spec = f"reflect:{max(1, round(need * per_reflection))}"
        elif kind in ("journal:commit", "torn:commit"):
            spec = f"{kind.split(':')[0]}:{max(1, round(need * per_reflection))}:commit"
        else:
            spec = f"save:{best_changes(chain.log_dir) + 1}"
        if chain.run(spec):
            break
        chain.killed_at(total)
    assert chain.run()
    counts = chain.tally()
    chain.check_result(reference)
    report("spread", counts, chain)
    assert chain.kills >= 26 and chain.kills_with_progress >= 22
    assert chain.torn_seen >= 8 and chain.torn_tolerated == chain.torn_seen
    assert min(chain.progress_at_kill) < 0.1 and max(chain.progress_at_kill) > 0.85
    assert len(set(chain.progress_at_kill)) >= 18  # kill points are spread, not piled up


def test_torn_line_of_every_record_type(reference, tmp_path):
    """A kill in the middle of writing each kind of journal record, the header and the last line included."""
    chain = Chain(tmp_path)
    specs = ["torn:1:header", "torn:1:run_started", "torn:3:rollout", "torn:1:reflection", "torn:1:candidate",
             "torn:2:commit", "torn:1:run_finished"]
    for spec in specs:
        assert not chain.run(spec), f"{spec} did not kill the session"
    assert chain.run()
    counts = chain.tally()
    chain.check_result(reference)
    report("torn", counts, chain)
    assert chain.kills == chain.torn_seen == chain.torn_tolerated == len(specs)


def test_kills_at_random_moments(reference, tmp_path):
    """SIGKILL from outside after a random delay (seeded), whatever the run is doing at that moment."""
    rng = random.Random(11)
    chain = Chain(tmp_path)
    landed = 0
    for _ in range(8):
        proc = chain.start(None)
        size = (chain.log_dir / "journal.jsonl").stat().st_size if (chain.log_dir / "journal.jsonl").exists() else 0
        deadline = time.monotonic() + 60
        # Wait for the session to get going (past imports and replay), then kill it at a random moment.
        while proc.poll() is None and time.monotonic() < deadline:
            path = chain.log_dir / "journal.jsonl"
            if path.exists() and path.stat().st_size > size + 200:
                break
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.25))
        proc.kill()
        if chain.finish(proc, "timed"):
            break
        landed += 1
    if not chain.out.exists():
        assert chain.run()
    counts = chain.tally()
    chain.check_result(reference)
    report("timed", counts, chain)
    assert landed >= 3
