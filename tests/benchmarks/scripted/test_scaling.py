"""The scaling suite's README section, from hand-made records (the suite itself takes an hour)."""

from benchmarks.scripted import scaling


def run(optimizer, n_val, budget, wall, repeat=0, kind="run", **extra):
    return {"kind": kind, "optimizer": optimizer, "n_val": n_val, "budget": budget, "repeat": repeat,
            "wall_time_s": wall, "metric_calls_reported": budget, "num_candidates": 5, "peak_rss_mb": 100.0,
            "baseline_rss_mb": 70.0, "load_average": [1.0, 1.0, 1.0], **extra}


def records(resume_s=1.0, report_s=0.5):
    journal = {"journal_bytes": 6000, "record_bytes": {"rollout/val": 4000, "header": 2000},
               "record_counts": {"rollout/val": 10, "header": 1}, "rollout_field_bytes": {"rollout/val.usage": 1000}}
    return [
        run("dspy", 100, 1000, 2.0), run("dspy_gepa", 100, 1000, 1.0),
        run("dspy", 100, 30000, 90.0), run("dspy_gepa", 100, 30000, 33.0),
        run("dspy_gepa", 100, 30000, 40.0, kind="journal_run", **journal),
        run("dspy_gepa", 100, 30000, resume_s, kind="resume", task_lm_calls=0, reflection_lm_calls=0),
        {"kind": "cli", "command": "report", "in_process_s": report_s, "command_s": report_s + 0.1, "peak_rss_mb": 60},
        {"kind": "cli", "command": "show", "in_process_s": 0.2, "command_s": 0.3, "peak_rss_mb": 60},
        run("dspy", 100, 10000, 5.0, repeat="state", state_bytes=500_000),
        {"kind": "evaluate", "n_val": 10000, "budget": 10000, "wall_time_s": 10.0, "peak_rss_mb": 90,
         "baseline_rss_mb": 70},
        run("dspy_gepa", 10000, 10000, 12.0, kind="bigval"),
        {**run("dspy_gepa", 5000, 10000, 30.0, kind="largeval"), "metric_calls_reported": 9000,
         "best_val_score": 0.5, "did": {"seed_validation": 1250, "proposals": 300, "children_validated": 3,
                                        "final_validations": 1},
         "plan": {"seed_validation": 1250, "final_reserve": 3750, "screen_size": 1250, "per_rejected_proposal": 6,
                  "per_accepted_proposal": 1256, "proposals_min": 3, "proposals_max": 625, "seed_screened": True}},
    ]


def targets(lines):
    rows = lines[lines.index("| Target (issue 15) | Measured | Met |") + 2:]
    return {row.split(" | ")[0].lstrip("| "): row.rsplit(" | ", 1)[1].rstrip(" |") for row in rows}


def test_every_target_is_measured_and_marked():
    marks = targets(scaling.render({"records": records(), "settings": {"repeats": 1}}))
    assert len(marks) == 8 and set(marks.values()) == {"✅"}
    failing = targets(scaling.render({"records": records(resume_s=3.0, report_s=1.5), "settings": {}}))
    assert failing["resume of the finished run ≤ 5% of the run's time"] == "❌"
    assert failing["`dspy-gepa report` and `show` ≤ 1 s on its journal (whole command)"] == "❌"
