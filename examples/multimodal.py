"""Optimize a two-step image program with GEPA and the multimodal instruction proposer.

The task: each image is a close-up of a fruit's skin; is the fruit ripe? A red or yellow fruit is ripe,
a green one is not. The program describes the image, then answers from the description:

    describe: image, question -> description
    answer:   question, description -> answer

The metric gives half credit when the description names the right color, full credit for the right
answer, and feedback per step: a visual mistake for ``describe``, the missing rule for ``answer``.

By default everything runs offline on scripted LMs (``dspy_gepa.testing.scripted_lm``): the task LM reads
the color of the PNG it is sent but names it only if its instruction asks for the color, and the
reflection LM writes into the instruction what the feedback asks for. With ``--real`` the same program
runs on real models through litellm (set the provider's API key, e.g. OPENAI_API_KEY):

    python examples/multimodal.py
    python examples/multimodal.py --real --task-model openai/gpt-4.1-mini --reflection-model openai/gpt-4.1
    python examples/multimodal.py --no-images      # reflection without image parts (fewer tokens)
"""

from __future__ import annotations

import argparse
import logging
import re

import dspy

from dspy_gepa import GEPA, MultiModalInstructionProposer, ScoreWithFeedback
from dspy_gepa.testing import png_color, png_data_uri, scripted_lm

COLORS = {"red": (200, 30, 30), "green": (40, 170, 60), "yellow": (230, 210, 40)}
RIPE = {"red": "yes", "green": "no", "yellow": "yes"}


def dataset(n: int, start: int = 0) -> list[dspy.Example]:
    names = list(COLORS)
    data = []
    for i in range(start, start + n):
        color = names[i % len(names)]
        image = dspy.Image(png_data_uri(COLORS[color], size=8 + i))
        data.append(dspy.Example(image=image, question=f"Fruit #{i}: is it ripe? Answer yes or no.", color=color,
                                 answer=RIPE[color]).with_inputs("image", "question"))
    return data


class Ripeness(dspy.Module):
    def __init__(self):
        super().__init__()
        self.describe = dspy.Predict("image: dspy.Image, question: str -> description: str")
        self.answer = dspy.Predict("question: str, description: str -> answer: str")

    def forward(self, image, question):
        description = self.describe(image=image, question=question).description
        answer = self.answer(question=question, description=description).answer
        return dspy.Prediction(description=description, answer=answer.strip().lower().rstrip("."))


def metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    named = gold.color in (pred.description or "").lower()
    right = pred.answer == gold.answer
    score = 1.0 if right else 0.5 if named else 0.0
    if pred_name == "describe":
        feedback = ("The description names the fruit's color." if named else
                    f"Visual mistake: the description does not say which color the fruit is (the image shows "
                    f"{gold.color}), and ripeness is judged by color. Look at the image and state its color.")
    elif pred_name == "answer":
        feedback = "Correct." if right else (f"Wrong answer {pred.answer!r}; the answer is {gold.answer!r}. Add the "
                                             f"rule '{gold.color} => {gold.answer}'.")
    else:
        feedback = "Correct." if right else f"Expected {gold.answer!r}."
    return ScoreWithFeedback(score, feedback)


def scripted_task_lm() -> dspy.LM:
    def respond(call):
        if call.images:  # the describe step: it "sees" the color of the PNG it was sent
            rgb = png_color(call.images[0])
            color = min(COLORS, key=lambda c: sum((a - b) ** 2 for a, b in zip(COLORS[c], rgb, strict=True)))
            return {"description": f"A {color} fruit." if "color" in call.system.lower() else "A round fruit."}
        rules = dict(re.findall(r"\b(\w+) => (yes|no)\b", call.system))
        seen = [c for c in COLORS if c in (call.field("description") or "").lower()]
        return {"answer": rules.get(seen[0], "unknown") if seen else "unknown"}

    return scripted_lm(respond, "scripted/vision-task")


def scripted_reflection_lm() -> dspy.LM:
    def respond(call):
        current = call.field("current_instruction") or ""
        new = current
        if "Visual mistake" in call.prompt and "color" not in current:
            new += "\nLook at the image and say which color the fruit is."
        for rule in dict.fromkeys(re.findall(r"rule '(\w+ => \w+)'", call.prompt)):
            if rule not in new:
                new += f"\n{rule}"
        return {"new_instruction": new}

    return scripted_lm(respond, "scripted/vision-reflection")


def score(program: dspy.Module, data: list[dspy.Example]) -> float:
    return sum(metric(ex, program(**ex.inputs())).score for ex in data) / len(data)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="store_true", help="use real models through litellm instead of scripted LMs")
    parser.add_argument("--task-model", default="openai/gpt-4.1-mini", help="vision model for the program (--real)")
    parser.add_argument("--reflection-model", default="openai/gpt-4.1", help="vision model for reflection (--real)")
    parser.add_argument("--budget", type=int, default=60, help="max_metric_calls")
    parser.add_argument("--no-images", action="store_true", help="leave the images out of reflection")
    parser.add_argument("--max-images", type=int, default=None, help="at most this many images per reflection")
    parser.add_argument("--component-selector", default="round_robin", choices=["round_robin", "all"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    if args.real:
        task_lm = dspy.LM(args.task_model, temperature=0.0)
        reflection_lm = dspy.LM(args.reflection_model, temperature=1.0, max_tokens=16000)
    else:
        task_lm, reflection_lm = scripted_task_lm(), scripted_reflection_lm()
    trainset, valset = dataset(6), dataset(6, start=6)

    with dspy.context(lm=task_lm):
        student = Ripeness()
        before = score(student, valset)
        optimizer = GEPA(
            metric=metric,
            max_metric_calls=args.budget,
            reflection_lm=reflection_lm,
            instruction_proposer=MultiModalInstructionProposer(include_images=not args.no_images,
                                                              max_images=args.max_images),
            component_selector=args.component_selector,
        )
        optimized = optimizer.compile(student, trainset=trainset, valset=valset)
        after = score(optimized, valset)

    print(f"validation score: {before:.2f} -> {after:.2f}")
    instructions = {name: p.signature.instructions for name, p in optimized.named_predictors()}
    for name, text in instructions.items():
        print(f"\n[{name}]\n{text}")
    return {"before": before, "after": after, "instructions": instructions}


if __name__ == "__main__":
    main()
