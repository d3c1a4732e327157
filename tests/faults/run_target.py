"""A deterministic GEPA run for the kill tests, meant to be run (and SIGKILLed) in a subprocess.

    python tests/faults/run_target.py LOG_DIR COUNTER_FILE RESULT_FILE

Everything is scripted (task and reflection LMs are Python functions), so two uninterrupted runs give
identical results. Two things make it a fault-injection target:

* An independent rollout ledger: the program appends ``<candidate hash> <word> <session>`` to
  COUNTER_FILE (one ``os.write`` on an ``O_APPEND`` descriptor) after its LM calls and before it
  returns, i.e. for every rollout actually run, whatever the optimizer records.
* ``FAULT_KILL``, a kill point for this process (all hooks live in this file; the library has none):

  ``journal:N[:TYPE]``  SIGKILL right after the N-th journal line (of that record TYPE) is written
  ``torn:N[:TYPE]``     write the first half of the N-th journal line, SIGKILL (a torn last line)
  ``rollout:N``         SIGKILL inside the N-th rollout, between its two LM calls
  ``reflect:N``         SIGKILL inside the N-th reflection LM call, before it returns
  ``save:N``            SIGKILL inside the N-th save of best_program.json, after its temp file is written

  Counts are per process. ``FAULT_SESSION`` (default ``0``) tags the ledger lines.

On success the key fields of ``detailed_results`` are written to RESULT_FILE as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import dspy

from dspy_gepa import GEPA, ScoreWithFeedback
from dspy_gepa.engine import journal as journal_module
from dspy_gepa.engine.types import candidate_hash
from dspy_gepa.testing import scripted_lm

# Words belong to a kind (their first letter); the rule "kind => color" in an instruction solves every word
# of that kind, so rules learned on training words carry over to the (disjoint) validation words.
COLORS = ("red", "yellow", "green", "purple", "orange")
KINDS = "abcdefghij"
WORDS = {f"{k}{i}": COLORS[n % len(COLORS)]
         for n, k in enumerate(KINDS) for i in range(3)}
TRAIN_WORDS = [w for w in WORDS if not w.endswith("2")]
VAL_WORDS = [w for w in WORDS if w not in TRAIN_WORDS]
CAPACITY = 4  # rules an instruction keeps (the newest): candidates specialize, so merges have work to do
SETTINGS = dict(max_metric_calls=300, num_threads=4, max_concurrent_proposals=2, seed=3)


def data() -> tuple[list[dspy.Example], list[dspy.Example]]:
    def ex(w: str) -> dspy.Example:
        return dspy.Example(word=w, color=WORDS[w]).with_inputs("word")

    return [ex(w) for w in TRAIN_WORDS], [ex(w) for w in VAL_WORDS]


def rule_for(text: str, word: str) -> str | None:
    import re

    m = re.search(rf"\b{re.escape(word)} => (\w+)", text)
    return m.group(1) if m else None


def metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    ok = pred.color == gold.color
    return ScoreWithFeedback(float(ok), "Correct." if ok else f"Wrong. Add the rule '{gold.word[0]} => {gold.color}'.")


def reflection_respond(call):
    """Adds the first missing rule named in the feedback, keeping the newest CAPACITY rules; for about
    one prompt in three (by a hash of the prompt, so deterministically) it adds a useless rule instead."""
    import re
    import zlib

    current = call.field("current_instruction") or ""
    lines = current.split("\n")
    head, rules = lines[0], [line for line in lines[1:] if "=>" in line]
    missing = [r for r in dict.fromkeys(re.findall(r"rule '(\w+ => \w+)'", call.prompt)) if r not in rules]
    if zlib.crc32(call.prompt.encode()) % 3 == 0:
        missing = [f"z{zlib.crc32(call.prompt.encode()) % 97} => red"]
    rules = (rules + missing[:1])[-CAPACITY:]
    return {"new_instruction": "\n".join([head, *rules])}


class _Kill:
    """Parses FAULT_KILL and counts the events it names."""

    def __init__(self, spec: str | None):
        parts = (spec or "").split(":")
        self.when = parts[0] if spec else None
        self.n = int(parts[1]) if spec else 0
        self.type = parts[2] if len(parts) > 2 else None
        self.seen = 0
        self.lock = threading.Lock()

    def hit(self, when: str, record_type: str | None = None) -> bool:
        if when != self.when or (self.type is not None and record_type != self.type):
            return False
        with self.lock:
            self.seen += 1
            return self.seen == self.n


KILL = _Kill(os.environ.get("FAULT_KILL"))
SESSION = os.environ.get("FAULT_SESSION", "0")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install_journal_hook() -> None:
    """Route every journal line (the header included) through the kill points ``journal`` and ``torn``."""
    original_write = journal_module.FileJournal._write

    def write(self, data: bytes) -> None:
        try:
            record_type = json.loads(data).get("type")
        except ValueError:
            record_type = None
        if KILL.hit("torn", record_type):
            original_write(self, data[: max(1, len(data) // 2)])
            die()
        original_write(self, data)
        if KILL.hit("journal", record_type):
            die()

    journal_module.FileJournal._write = write


def install_save_hook() -> None:
    original = dspy.Module.save

    def save(self, path, *args, **kwargs):
        result = original(self, path, *args, **kwargs)
        if KILL.hit("save"):
            die()
        return result

    dspy.Module.save = save


class Ledger:
    def __init__(self, path: str):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def ran(self, cand: str, word: str) -> None:
        os.write(self.fd, f"{cand} {word} {SESSION}\n".encode())


class TwoRules(dspy.Module):
    """Two predictors (identical signatures); either one's rule solves a word."""

    ledger: Ledger | None = None

    def __init__(self):
        super().__init__()
        self.first = dspy.Predict("word -> color")
        self.second = dspy.Predict("word -> color")

    def forward(self, word):
        guess = self.first(word=word).color
        if KILL.hit("rollout"):
            die()
        fixed = self.second(word=word).color
        cand = candidate_hash({name: p.signature.instructions for name, p in self.named_predictors()})
        if TwoRules.ledger is not None:
            TwoRules.ledger.ran(cand, word)
        return dspy.Prediction(color=fixed if fixed != "unknown" else guess)


def task_respond(call):
    return {"color": rule_for(call.system, call.field("word")[0]) or "unknown"}


def reflect_respond(call):
    if KILL.hit("reflect"):
        die()
    return reflection_respond(call)


def run(log_dir: str, counter: str | None) -> dict:
    TwoRules.ledger = Ledger(counter) if counter else None
    train, val = data()
    with dspy.context(lm=scripted_lm(task_respond, "scripted/task")):
        optimized = GEPA(metric=metric, reflection_lm=scripted_lm(reflect_respond, "scripted/reflection"),
                         track_stats=True, log_dir=log_dir, **SETTINGS).compile(TwoRules(), trainset=train,
                                                                               valset=val)
    r = optimized.detailed_results
    return {"candidate_texts": r.candidate_texts, "parents": r.parents,
            "val_subscores": [{str(k): v for k, v in s.items()} for s in r.val_subscores],
            "discovery_eval_counts": r.discovery_eval_counts, "total_metric_calls": r.total_metric_calls,
            "best_idx": r.best_idx, "stop_reason": r.stop_reason,
            "best_instructions": {n: p.signature.instructions for n, p in optimized.named_predictors()}}


def main(argv: list[str]) -> int:
    log_dir, counter, out = argv[1], argv[2], argv[3]
    install_journal_hook()
    install_save_hook()
    result = run(log_dir, counter)
    Path(out).write_text(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
