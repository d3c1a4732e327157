"""Backends side by side: where rollouts run, and what it buys (``python -m benchmarks.scale``).

Two suites, each alternating the backends it compares in one invocation (same machine, same moment), repeated,
with the machine's load average recorded before and after every trial:

* ``cpu``: a CPU-bound program — every rollout does ~100 ms of pure-Python work (a "tool" that scans a
  generated corpus) around a zero-latency scripted LM call — optimized with ``backend="threads"`` (held to
  one core by the GIL) and with ``RayBackend`` on a local Ray instance using every core. The Ray instance is
  started once, before the trials, and one untimed Ray run warms its workers up (their DSPy imports), as a
  user with a running cluster would have; both start-up times are reported apart.
* ``latency``: an LM-latency-bound program — one LM call of 1 s per rollout, 256 rollouts in flight
  (``num_threads=256``) — optimized with ``backend="threads"`` and ``backend="async"``. Each trial runs in a
  fresh subprocess, so its peak resident memory and thread count are its own.

Both runs of a pair reach the same result (checked): only where the rollouts ran differs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import dspy

from dspy_gepa import GEPA, ScoreWithFeedback
from dspy_gepa.testing import scripted_lm

RESULTS = Path(__file__).parent / "results"
COLORS = ("red", "yellow", "green", "purple", "orange", "blue")


# ---------------------------------------------------------------- the scripted task

#: Words belong to kinds; the rule ``kind => color`` in an instruction solves every word of that kind, so rules
#: learned on training words carry over to the validation words and the search makes steady progress.
KINDS = 12


def words(n: int) -> list[dspy.Example]:
    return [dspy.Example(word=f"k{i % KINDS}w{i}", color=COLORS[zlib.crc32(f"k{i % KINDS}".encode()) % len(COLORS)])
            .with_inputs("word") for i in range(n)]


def answer(call: Any) -> dict[str, str]:
    """The task LM knows a word's color only when its instruction has the rule ``kind => color``."""
    kind = call.field("word").split("w")[0]
    m = re.search(rf"\b{kind} => (\w+)", call.system)
    return {"color": m.group(1) if m else "unknown"}


def reflect(call: Any) -> dict[str, str]:
    """The reflection LM adds one missing rule the feedback names (progress is slow, so budgets get spent)."""
    current = call.field("current_instruction") or ""
    missing = [r for r in dict.fromkeys(re.findall(r"rule '(\w+ => \w+)'", call.prompt)) if r not in current]
    return {"new_instruction": current + (f"\n{missing[0]}" if missing else "")}


def metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    ok = pred.color == gold.color
    kind = gold.word.split("w")[0]
    return ScoreWithFeedback(float(ok), "Correct." if ok else f"Wrong. Add the rule '{kind} => {gold.color}'.")


def busy(iterations: int, seed: str) -> int:
    """Pure-Python work the GIL serializes: a hash chain over a generated corpus."""
    h = zlib.crc32(seed.encode())
    for i in range(iterations):
        h = (h * 1000003 + i) & 0xFFFFFFFF
    return h


class ToolProgram(dspy.Module):
    """Asks the LM, then runs a CPU-bound tool on the answer (its result does not change the prediction).
    With ``sleep`` set, the tool sleeps that long instead: the same run with perfectly parallel work, which is
    how :func:`cpu_suite` estimates more cores than this machine has."""

    def __init__(self, iterations: int, sleep: float | None = None):
        super().__init__()
        self.answer = dspy.Predict("word -> color")
        self.iterations = iterations
        self.sleep = sleep

    def forward(self, word):
        prediction = self.answer(word=word)
        if self.sleep is not None:
            time.sleep(self.sleep)
        else:
            start = time.thread_time()
            busy(self.iterations, word)
            WORK_CPU_S.append(time.thread_time() - start)
        return prediction


#: CPU seconds of each tool call made in this process (the threads runs): what one rollout's work costs, unlike
#: its wall-clock, whatever else the machine is running.
WORK_CPU_S: list[float] = []


def calibrate(target_s: float = 0.1) -> int:
    """Iterations of :func:`busy` that take ``target_s`` of CPU here (the fastest of seven measurements)."""
    probe = 200_000
    best = min(_cpu_timed(busy, probe, "x") for _ in range(7))
    return int(probe * target_s / best)


def _cpu_timed(fn: Any, *args: Any) -> float:
    start = time.thread_time()
    fn(*args)
    return time.thread_time() - start


def result_key(r: Any) -> list:
    return [r.candidate_texts, r.val_subscores, r.total_metric_calls]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------- cpu: threads vs Ray

CPU_SETTINGS = dict(max_metric_calls=240, num_threads=4, max_concurrent_proposals=2, seed=0)


def cpu_run(backend: Any, program: dspy.Module, **settings: Any) -> dict[str, Any]:
    data = words(64)
    with dspy.context(lm=scripted_lm(answer, "scripted/task")):
        gepa = GEPA(metric=metric, reflection_lm=scripted_lm(reflect, "scripted/reflection"), track_stats=True,
                    backend=backend, progress=False, **{**CPU_SETTINGS, **settings})
        load = loadavg()
        start = time.perf_counter()
        result = gepa.compile(program, trainset=data[:24], valset=data[24:]).detailed_results
        wall = time.perf_counter() - start
    return {"wall_s": round(wall, 3), "rollouts": result.total_metric_calls, "load_before": load,
            "load_after": loadavg(), "key": result_key(result)}


def cpu_suite(repeats: int) -> dict[str, Any]:
    import ray

    from dspy_gepa.backends import RayBackend

    iterations = calibrate()
    start = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - start
    cpus = int(ray.cluster_resources().get("CPU", 0))
    try:
        warm = cpu_run(RayBackend(), ToolProgram(iterations))
        trials: dict[str, list[dict[str, Any]]] = {"threads": [], "ray": []}
        for i in range(repeats):
            order = ("threads", "ray") if i % 2 == 0 else ("ray", "threads")
            for name in order:
                trials[name].append(cpu_run("threads" if name == "threads" else RayBackend(), ToolProgram(iterations)))
                logging.info("cpu %s #%d: %.2f s", name, i, trials[name][-1]["wall_s"])
    finally:
        ray.shutdown()
    same = all(t["key"] == warm["key"] for ts in trials.values() for t in ts)
    med = {name: statistics.median(t["wall_s"] for t in ts) for name, ts in trials.items()}
    work = statistics.median(WORK_CPU_S)
    return {
        "cpus": cpus, "busy_iterations": iterations, "rollout_work_s": round(work, 4),
        "rollouts_per_run": warm["rollouts"], "ray_start_s": round(ray_start, 2), "ray_first_run_s": warm["wall_s"],
        "same_result": same, "median_wall_s": {k: round(v, 3) for k, v in med.items()},
        "speedup": round(med["threads"] / med["ray"], 3),
        "estimate": _estimate(iterations, work, med, warm["rollouts"], cpus),
        "trials": {k: [{x: t[x] for x in ("wall_s", "load_before", "load_after")} for t in ts]
                   for k, ts in trials.items()},
    }


def _estimate(iterations: int, work: float, med: dict[str, float], rollouts: int, cpus: int) -> dict[str, Any]:
    """Speed-up of Ray over threads on N cores, from runs on this machine.

    A run whose tool *sleeps* ``work`` seconds instead of computing, on ``num_threads=N`` threads, is the same
    search with perfectly parallel work on N cores and no Ray: its wall-clock ``T_sleep(N)`` counts the search's
    own limits (phases with few rollouts to run, the driver's time). Ray adds ``o`` seconds per rollout, measured
    here as ``(T_ray(cpus) - T_sleep(cpus)) / R``. Threads pay the whole work serially: ``T_threads = S + R·w``,
    with S the driver's time, measured as ``T_threads - R·w`` here. So::

        speed-up(N) ≈ (S + R_N·w) / (T_sleep(N) + R_N·o)

    with ``max_concurrent_proposals = max(2, N // 6)`` (the default rule, at least this benchmark's 2) so the
    search offers more rollouts at once on more cores; R_N is that run's rollouts.
    """
    serial = max(0.0, med["threads"] - rollouts * work)
    base = cpu_run("threads", ToolProgram(iterations, sleep=work), num_threads=cpus)
    overhead = max(0.0, (med["ray"] - base["wall_s"]) / rollouts)
    rows = {}
    for n in (2, 4, 8, 16, 32, 64):
        width = max(2, n // 6)
        sleep_run = cpu_run("threads", ToolProgram(iterations, sleep=work), num_threads=n,
                            max_concurrent_proposals=width)
        r = sleep_run["rollouts"]
        rows[n] = {"max_concurrent_proposals": width, "rollouts": r, "sleep_run_s": sleep_run["wall_s"],
                   "speedup": round((serial + r * work) / (sleep_run["wall_s"] + r * overhead), 2)}
    return {"driver_s": round(serial, 3), "ray_overhead_per_rollout_s": round(overhead, 4),
            "sleep_run_at_cpus_s": base["wall_s"], "cores": rows}


# ---------------------------------------------------------------- latency: async vs threads

LATENCY_SETTINGS = dict(max_metric_calls=700, num_threads=256, max_concurrent_proposals=2, seed=0)


def latency_trial(backend: str) -> dict[str, Any]:
    """One run in this (fresh) process: wall-clock, peak resident memory during the run (sampled every 10 ms)
    and its growth over the resident memory before the run, peak threads."""
    data = words(288)
    peak_threads, peak_kb, stop = [threading.active_count()], [_rss_kb()], threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            peak_threads[0] = max(peak_threads[0], threading.active_count())
            peak_kb[0] = max(peak_kb[0], _rss_kb())

    sampler = threading.Thread(target=sample, daemon=True)
    baseline_kb = _rss_kb()
    with dspy.context(lm=scripted_lm(answer, "scripted/task", latency=1.0)):
        gepa = GEPA(metric=metric, reflection_lm=scripted_lm(reflect, "scripted/reflection"), track_stats=True,
                    backend=backend, progress=False, **LATENCY_SETTINGS)
        sampler.start()
        load = loadavg()
        start = time.perf_counter()
        result = gepa.compile(dspy.Predict("word -> color"), trainset=data[:32], valset=data[32:]).detailed_results
        wall = time.perf_counter() - start
        stop.set()
    return {"wall_s": round(wall, 3), "rollouts": result.total_metric_calls,
            "peak_rss_mb": round(peak_kb[0] / 1024, 1), "rss_growth_mb": round((peak_kb[0] - baseline_kb) / 1024, 1),
            "peak_threads": peak_threads[0],
            "load_before": load, "load_after": loadavg(), "key": result_key(result)}


def _rss_kb() -> int:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def latency_suite(repeats: int) -> dict[str, Any]:
    trials: dict[str, list[dict[str, Any]]] = {"threads": [], "async": []}
    for i in range(repeats):
        order = ("threads", "async") if i % 2 == 0 else ("async", "threads")
        for name in order:
            out = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--trial", name], check=True,
                                 capture_output=True, text=True, cwd=Path(__file__).parents[2])
            trials[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            logging.info("latency %s #%d: %.2f s, %s MB", name, i, trials[name][-1]["wall_s"],
                         trials[name][-1]["peak_rss_mb"])
    first = trials["threads"][0]["key"]
    med = {name: {m: statistics.median(t[m] for t in ts) for m in ("wall_s", "peak_rss_mb", "rss_growth_mb",
                                                                  "peak_threads")}
           for name, ts in trials.items()}
    return {"rollouts_per_run": trials["threads"][0]["rollouts"], "lm_latency_s": 1.0,
            "same_result": all(t["key"] == first for ts in trials.values() for t in ts), "median": med,
            "trials": {k: [{x: t[x] for x in t if x != "key"} for t in ts] for k, ts in trials.items()}}


# ---------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=("cpu", "latency", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=3, help="trials per backend (medians are quoted)")
    parser.add_argument("--output", type=Path, default=RESULTS / "scaling.json")
    parser.add_argument("--trial", choices=("threads", "async"), help=argparse.SUPPRESS)  # one latency trial
    args = parser.parse_args(argv)
    if args.trial:
        logging.disable(logging.WARNING)
        print(json.dumps(latency_trial(args.trial)))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("dspy_gepa", "dspy_gepa.engine", "dspy_gepa.optimizer"):
        logging.getLogger(name).setLevel(logging.WARNING)
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "python": platform.python_version(),
                              "cores": os.cpu_count(), "load_before": loadavg()}
    if args.suite in ("cpu", "all"):
        report["cpu"] = cpu_suite(args.repeats)
    if args.suite in ("latency", "all"):
        report["latency"] = latency_suite(args.repeats)
    report["load_after"] = loadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("cpu", "latency")}
                     | {s: {k: v for k, v in report[s].items() if k != "trials"} for s in ("cpu", "latency")
                        if s in report}, indent=1))
    return 0
