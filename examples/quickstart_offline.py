"""The README quickstart, run offline: the same program, metric and GEPA call, with scripted LMs.

The task LM answers a word's color only when its instruction states the rule ``word => color``; the
metric's feedback names the missing rule; the scripted reflection LM writes the rules it reads in the
feedback into a new instruction. So the score rises only through GEPA's reflection on feedback — the
machinery is real (DSPy adapters, traces, the engine, the journal), only the LMs are scripted.

    python examples/quickstart_offline.py [--log-dir DIR] [--budget N]

To use real models instead, replace the two ``scripted_lm(...)`` with ``dspy.LM("openai/gpt-4.1-mini")``
and ``dspy.LM("openai/gpt-4.1", temperature=1.0, max_tokens=32000)``.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time

import dspy

from dspy_gepa import GEPA, ScoreWithFeedback
from dspy_gepa.testing import scripted_lm

COLORS = {
    "apple": "red", "banana": "yellow", "lime": "green", "plum": "purple", "cherry": "red", "kiwi": "green",
    "lemon": "yellow", "grape": "purple", "tomato": "red", "pear": "green", "corn": "yellow", "beet": "purple",
    "mango": "orange", "carrot": "orange", "spinach": "green", "strawberry": "red", "eggplant": "purple",
    "pumpkin": "orange",
}


def task_reply(call):
    rule = re.search(rf"\b{call.field('word')} => (\w+)", call.system)
    return {"color": rule.group(1) if rule else "unknown"}


def reflection_reply(call):
    current = call.field("current_instruction") or ""
    rules = [r for r in dict.fromkeys(re.findall(r"rule '(\w+ => \w+)'", call.prompt)) if r not in current]
    return {"new_instruction": current + "".join(f"\n{r}" for r in rules)}


def metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    ok = pred.color == gold.color
    return ScoreWithFeedback(score=float(ok),
                             feedback="Correct." if ok else f"Wrong. Add the rule '{gold.word} => {gold.color}'.")


def evaluate(program, data):
    return sum(metric(ex, program(word=ex.word)).score for ex in data) / len(data)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-dir", default=None, help="where the journal goes (default: a temporary directory)")
    parser.add_argument("--budget", type=int, default=200, help="max_metric_calls")
    args = parser.parse_args(argv)
    log_dir = args.log_dir or tempfile.mkdtemp(prefix="dspy-gepa-quickstart-")

    data = [dspy.Example(word=w, color=c).with_inputs("word") for w, c in COLORS.items()]
    train, val = data[:12], data[:12]
    dspy.configure(lm=scripted_lm(task_reply, "scripted/task-lm"))
    student = dspy.Predict("word -> color")

    start = time.perf_counter()
    optimizer = GEPA(metric=metric, max_metric_calls=args.budget, reflection_lm=scripted_lm(reflection_reply),
                     track_stats=True, log_dir=log_dir)
    optimized = optimizer.compile(student, trainset=train, valset=val)
    elapsed = time.perf_counter() - start

    results = optimized.detailed_results
    summary = {
        "baseline_val": evaluate(student, val),
        "optimized_val": evaluate(optimized, val),
        "candidates": len(results.candidates),
        "metric_calls": results.total_metric_calls,
        "budget": args.budget,
        "log_dir": log_dir,
        "seconds": round(elapsed, 2),
    }
    print(f"validation score: {summary['baseline_val']:.2f} -> {summary['optimized_val']:.2f} "
          f"({summary['candidates']} candidates, {summary['metric_calls']}/{args.budget} metric calls, "
          f"{summary['seconds']} s)")
    print("optimized instruction:\n  " + optimized.signature.instructions.replace("\n", "\n  "))
    print(f"journal and best program in {log_dir}")
    return summary


if __name__ == "__main__":
    main()
