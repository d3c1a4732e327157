import dspy
from dspy.teleprompt.gepa.instruction_proposal import InstructionProposer

from benchmarks.scripted.lms import ReflectionPolicy, StepSpec, make_reflection_lm, make_task_lm, output_fields
from benchmarks.scripted.rules import hint_line, make_instruction, parse

STEP = StepSpec("route", "queue", "ticket", rule_limit=2)


def _predict(instruction: str) -> dspy.Predict:
    return dspy.Predict(dspy.Signature("ticket -> queue", instruction))


def test_output_fields_reads_dspy_system_message():
    system = "Your input fields are:\n1. `a` (str):\nYour output fields are:\n1. `reasoning` (str):\n2. `new_text` (str): x\nAll interactions"
    assert output_fields(system) == ["reasoning", "new_text"]


def test_task_lm_follows_the_instruction_rules_with_both_adapters():
    lm = make_task_lm([STEP])
    instruction = make_instruction("route", "Route it.", {"abc": "billing", "def": "refunds", "ghi": "returns"})
    with dspy.context(lm=lm):
        assert _predict(instruction)(ticket="hello abc there").queue == "billing"
        assert _predict(instruction)(ticket="nothing known").queue == "unknown"
        # attention span: only the first 2 rules are read
        assert _predict(instruction)(ticket="see ghi").queue == "unknown"
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        assert _predict(instruction)(ticket="def please").queue == "refunds"


def test_task_lm_is_deterministic_given_the_prompt():
    lm = make_task_lm([STEP])
    with dspy.context(lm=lm):
        answers = {_predict("RULE[abc]: answer billing")(ticket="abc x").queue for _ in range(3)}
    assert answers == {"billing"}


def _dataset(hints: list[tuple[str, str]]) -> dict[str, list[dict]]:
    return {
        "route": [
            {
                "Inputs": {"ticket": f"about {k}"},
                "Generated Outputs": {"queue": "unknown"},
                "Feedback": "Wrong. " + hint_line("route", k, v),
            }
            for k, v in hints
        ]
    }


def test_reflection_lm_works_with_dspy_builtin_json_proposer():
    policy = ReflectionPolicy(caps={"route": 5}, p_forget=0.0, p_garble=0.0)
    lm = make_reflection_lm(policy)
    current = make_instruction("route", "Route it.", {"abc": "billing"})
    with dspy.context(lm=lm):
        out = InstructionProposer()(
            candidate={"route": current},
            reflective_dataset=_dataset([("xyz", "refunds")]),
            components_to_update=["route"],
        )
    parsed = parse(out["route"])
    assert parsed.rules["route"] == {"abc": "billing", "xyz": "refunds"}
    assert parsed.tasks["route"] == "Route it."


def test_reflection_lm_works_with_other_field_names_chat_adapter_and_reasoning():
    class Improve(dspy.Signature):
        """Improve the prompt of a step from graded examples."""

        old_prompt: str = dspy.InputField()
        graded_examples: str = dspy.InputField()
        improved_prompt: str = dspy.OutputField()

    policy = ReflectionPolicy(caps={"route": 5}, p_forget=0.0, p_garble=0.0)
    lm = make_reflection_lm(policy)
    current = make_instruction("route", "Route it.", {"abc": "billing"})
    with dspy.context(lm=lm):
        out = dspy.ChainOfThought(Improve)(old_prompt=current, graded_examples=hint_line("route", "q1", "returns"))
    assert parse(out.improved_prompt).rules["route"] == {"abc": "billing", "q1": "returns"}
    assert out.reasoning


def test_reflection_lm_caps_rules_and_only_uses_hints_of_its_step():
    policy = ReflectionPolicy(caps={"route": 3}, p_forget=0.0, p_garble=0.0)
    lm = make_reflection_lm(policy)
    current = make_instruction("route", "Route it.", {"a1": "x", "a2": "x", "a3": "x"})
    feedback = hint_line("route", "n1", "y") + " " + hint_line("route", "n2", "y") + " " + hint_line("other", "o", "z")
    with dspy.context(lm=lm):
        out = dspy.Predict("current_instruction, feedback -> new_instruction")(
            current_instruction=current, feedback=feedback
        )
    rules = parse(out.new_instruction).rules["route"]
    assert len(rules) == 3 and {"n1", "n2"} <= set(rules) and "o" not in rules
    assert policy.proposals[-1]["dropped"] == 2


def test_reflection_imperfections_are_deterministic_and_occur():
    policy = ReflectionPolicy(caps={"route": 20}, p_forget=0.3, p_garble=0.3)
    lm = make_reflection_lm(policy)
    current = make_instruction("route", "Route it.", {f"k{i}": "v" for i in range(5)})
    outs = []
    with dspy.context(lm=lm):
        for i in range(40):
            hints = hint_line("route", f"h{i}", "good")
            a = dspy.Predict("current_instruction, feedback -> new_instruction")(
                current_instruction=current, feedback=hints
            )
            b = dspy.Predict("current_instruction, feedback -> new_instruction")(
                current_instruction=current, feedback=hints
            )
            assert a.new_instruction == b.new_instruction
            outs.append(parse(a.new_instruction).rules["route"])
    assert any(len(r) == 5 for r in outs)  # forgot one rule, added one
    assert any(r.get(f"h{i}") not in (None, "good") for i, r in enumerate(outs))  # garbled
    assert any(len(r) == 6 and r.get(f"h{i}") == "good" for i, r in enumerate(outs))  # clean proposal
