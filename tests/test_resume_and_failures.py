"""log_dir resume, best-program checkpoints, and failures that must stop the run."""

import json

import dspy
import dspy.lm15
import pytest

from dspy_gepa import GEPA, InfrastructureError, JournalMismatchError, ReflectionError
from dspy_gepa.engine.journal import JOURNAL_NAME
from dspy_gepa.testing import ScriptedReply, scripted_lm

from .helpers import Counter, TwoStep, examples, metric, reflection_lm, rule_for, split


def optimize(log_dir=None, *, task=None, reflection=None, budget=140, program=None, **kw):
    with dspy.context(lm=task or counting_task(Counter())):
        return GEPA(metric=metric, max_metric_calls=budget, reflection_lm=reflection or reflection_lm(),
                    track_stats=True, log_dir=log_dir, num_threads=2, **kw).compile(
            program or TwoStep(), trainset=split()[0], valset=split()[1])


def counting_task(counter, stop_after=None):
    def respond(call):
        counter.bump()
        if stop_after is not None and counter.n > stop_after:
            raise KeyboardInterrupt  # the user presses Ctrl-C (or the process is killed) mid-run
        return {"color": rule_for(call.system, call.field("word")) or "unknown"}

    return scripted_lm(respond, "scripted/task")


def key(result):
    r = result.detailed_results
    return r.candidate_texts, r.parents, r.val_subscores, r.discovery_eval_counts, r.total_metric_calls


def test_interrupted_run_resumes_to_the_same_result_without_redoing_work(tmp_path):
    reference_calls = Counter()
    reference = optimize(task=counting_task(reference_calls))
    assert len(reference.detailed_results.candidates) >= 3
    for stop_after in (7, reference_calls.n // 2, reference_calls.n - 4):
        log = tmp_path / f"stop{stop_after}"
        first = Counter()
        with pytest.raises(KeyboardInterrupt):
            optimize(log, task=counting_task(first, stop_after=stop_after))
        second = Counter()
        resumed = optimize(log, task=counting_task(second))
        assert key(resumed) == key(reference)
        # Each task-LM call happens once across both halves, except calls cut off by the interruption.
        assert second.n <= reference_calls.n - stop_after + 2 * 2
        recorded = sum(1 for line in (log / JOURNAL_NAME).read_text().splitlines()
                       if json.loads(line)["type"] == "rollout")
        assert recorded == resumed.detailed_results.total_metric_calls


def test_finished_run_resumed_makes_no_lm_call(tmp_path):
    first = optimize(tmp_path)
    calls = Counter()
    refl = reflection_lm()
    again = optimize(tmp_path, task=counting_task(calls), reflection=refl)
    assert key(again) == key(first)
    assert calls.n == 0 and refl.engine.calls == []


def test_resume_with_a_larger_budget_continues(tmp_path):
    small = optimize(tmp_path, budget=60)
    bigger = optimize(tmp_path, budget=140)
    assert bigger.detailed_results.total_metric_calls > small.detailed_results.total_metric_calls
    assert bigger.detailed_results.candidate_texts[: len(small.detailed_results.candidates)] == \
        small.detailed_results.candidate_texts


def test_best_program_is_saved_and_loads(tmp_path):
    optimized = optimize(tmp_path)
    loaded = TwoStep()
    loaded.load(str(tmp_path / "best_program.json"))
    assert [p.signature.instructions for _, p in loaded.named_predictors()] == \
        [p.signature.instructions for _, p in optimized.named_predictors()]


@pytest.mark.parametrize("change,match", [
    ({"seed": 1}, "seed"),
    ({"reflection_minibatch_size": 2}, "minibatch_size"),
    ({"program": dspy.Predict("word -> color")}, "components"),
])
def test_journal_from_another_configuration_is_refused(tmp_path, change, match):
    optimize(tmp_path, budget=40)
    with pytest.raises(JournalMismatchError, match=match):
        optimize(tmp_path, budget=40, **change)


def test_journal_from_other_data_is_refused(tmp_path):
    optimize(tmp_path, budget=40)
    with dspy.context(lm=counting_task(Counter())), pytest.raises(JournalMismatchError, match="trainset"):
        GEPA(metric=metric, max_metric_calls=40, reflection_lm=reflection_lm(), log_dir=str(tmp_path)).compile(
            TwoStep(), trainset=examples()[:9], valset=split()[1])


def test_torn_last_journal_line_is_tolerated(tmp_path, caplog):
    reference = optimize(budget=100)
    optimize(tmp_path, budget=100)
    path = tmp_path / JOURNAL_NAME
    lines = path.read_text().splitlines(keepends=True)
    cut = next(i for i in range(len(lines) - 1, 0, -1) if '"type": "rollout"' in lines[i])
    path.write_text("".join(lines[:cut]) + lines[cut][: len(lines[cut]) // 2])
    resumed = optimize(tmp_path, budget=100)
    assert key(resumed) == key(reference)
    assert "torn" in caplog.text


def test_reflection_lm_that_always_raises_makes_compile_raise():
    def broken(call):
        raise RuntimeError("reflection service returned HTTP 500 garbage")

    refl = scripted_lm(broken, "scripted/reflector")
    with pytest.raises(InfrastructureError, match="HTTP 500 garbage") as info:
        optimize(reflection=refl)
    assert info.value.lm == "scripted/reflector" and len(refl.engine.calls) == 1


def test_proposer_that_always_fails_stops_after_five_in_a_row():
    def proposer(candidate, reflective_dataset, components_to_update):
        raise RuntimeError("template bug")

    with pytest.raises(ReflectionError, match="5 proposals in a row") as info:
        optimize(instruction_proposer=proposer)
    assert str(info.value).count("template bug") == 5


def test_truncated_reflections_are_never_adopted():
    refl = scripted_lm(lambda call: ScriptedReply("[[ ## new_instruction ## ]]\napple => red\nbanana =>",
                                                  finish_reason="length"))
    with pytest.raises(ReflectionError, match="cut off"):
        optimize(reflection=refl)


def test_reflection_lm_auth_error_stops_at_once_naming_the_lm():
    def denied(call):
        raise dspy.lm15.AuthError("invalid api key")

    refl = scripted_lm(denied, "scripted/reflector")
    with pytest.raises(InfrastructureError, match="scripted/reflector"):
        optimize(reflection=refl)
    assert len(refl.engine.calls) == 1


def test_task_lm_outage_stops_the_run():
    def down(call):
        raise dspy.lm15.UnsupportedModelError("model gpt-9 does not exist")

    with pytest.raises(InfrastructureError, match="gpt-9 does not exist"):
        optimize(task=scripted_lm(down))


def test_program_failing_everywhere_is_reported():
    from dspy_gepa import ProgramError

    class Broken(dspy.Module):
        def __init__(self):
            super().__init__()
            self.p = dspy.Predict("word -> color")

        def forward(self, word):
            raise KeyError("missing retriever index")

    with pytest.raises(ProgramError, match="missing retriever index"):
        optimize(program=Broken())


def test_custom_proposer_works_without_reflection_lm():
    seen = []

    def proposer(candidate, reflective_dataset, components_to_update):
        seen.append(components_to_update)
        rules = {r["Feedback"].split("'")[1] for c in components_to_update for r in reflective_dataset[c]
                 if "'" in r["Feedback"]}
        return {c: candidate[c] + "".join(f"\n{r}" for r in sorted(rules)) for c in components_to_update}

    with dspy.context(lm=counting_task(Counter())):
        optimized = GEPA(metric=metric, max_metric_calls=100, instruction_proposer=proposer, track_stats=True).compile(
            TwoStep(), trainset=split()[0], valset=split()[1])
    r = optimized.detailed_results
    assert seen and max(r.val_aggregate_scores) > r.val_aggregate_scores[0]
