"""A small scripted image task shared by the tests, and checks on what a reflection LM was sent.

Fruit photos are solid-color PNGs built in code; a fruit is ripe when it is red or yellow. The program
has two predictors: ``describe`` (image, question -> description) and ``answer`` (question, description
-> answer). The scripted task LM "sees" the color of the image part it is sent, but ``describe`` names
the color only when its instruction mentions color, and ``answer`` answers only by a rule
``color => yes|no`` written in its instruction. The metric gives half credit for a description naming
the right color, full credit for the right answer, and per-predictor feedback: a visual mistake for
``describe``, the missing rule for ``answer``. The scripted reflection LM writes what the feedback asks
for into the instruction. So the score rises only if reflection sees the feedback, and both predictors
must change to reach a perfect score.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import dspy

from dspy_gepa import ScoreWithFeedback
from dspy_gepa.testing import ScriptedCall, png_color, png_data_uri, scripted_lm

COLORS = {"red": (200, 30, 30), "green": (40, 170, 60), "yellow": (230, 210, 40)}
RIPE = {"red": "yes", "green": "no", "yellow": "yes"}
COLOR_HINT = "Look at the image and say which color the fruit is."
_PLACEHOLDER = re.compile(r"\[IMAGE-(\d+)\]")
_B64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")


def color_name(rgb: tuple[int, int, int]) -> str:
    return min(COLORS, key=lambda name: sum((a - b) ** 2 for a, b in zip(COLORS[name], rgb, strict=True)))


def fruit_examples(n: int, start: int = 0) -> list[dspy.Example]:
    """``n`` examples; fruit ``#i`` gets its own image (colors cycle, sizes differ, so no two images match)."""
    names = list(COLORS)
    out = []
    for i in range(start, start + n):
        color = names[i % len(names)]
        image = dspy.Image(png_data_uri(COLORS[color], size=2 + i))
        out.append(dspy.Example(image=image, question=f"Is fruit #{i} ripe?", color=color, answer=RIPE[color])
                   .with_inputs("image", "question"))
    return out


def payload(image: Any) -> str:
    """The base64 text (or URL) of a ``dspy.Image`` or of an image part, to compare images by identity."""
    url = getattr(image, "url", None)
    data = getattr(image, "data", None)
    if isinstance(data, str) and data:
        return data
    return url.split(",", 1)[1] if url and url.startswith("data:") else url


class FruitProgram(dspy.Module):
    def __init__(self):
        super().__init__()
        self.describe = dspy.Predict("image: dspy.Image, question: str -> description: str")
        self.answer = dspy.Predict("question: str, description: str -> answer: str")

    def forward(self, image, question):
        description = self.describe(image=image, question=question).description
        return dspy.Prediction(description=description, answer=self.answer(question=question,
                                                                           description=description).answer)


def task_lm(**kw) -> dspy.LM:
    def respond(call: ScriptedCall):
        if call.images:  # describe
            color = color_name(png_color(call.images[0]))
            said = f"A {color} fruit." if "color" in call.system.lower() else "A round fruit."
            return {"description": said}
        description = (call.field("description") or "").lower()
        rules = dict(re.findall(r"\b(\w+) => (yes|no)\b", call.system))
        seen = [c for c in COLORS if c in description]
        return {"answer": rules.get(seen[0], "unknown") if seen else "unknown"}

    return scripted_lm(respond, "scripted/vision-task", **kw)


def metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    named = gold.color in (pred.description or "").lower()
    score = 1.0 if pred.answer == gold.answer else 0.5 if named else 0.0
    if pred_name == "describe":
        feedback = ("The description names the fruit's color." if named else
                    f"Visual mistake: the description does not say which color the fruit in the image is (it is "
                    f"{gold.color}), and ripeness depends on the color. Look at the image and state its color.")
    elif pred_name == "answer":
        feedback = ("Correct." if pred.answer == gold.answer else
                    f"Wrong answer {pred.answer!r}. Add the rule '{gold.color} => {gold.answer}'.")
    else:
        feedback = "Correct." if score == 1.0 else f"Expected {gold.answer!r}."
    return ScoreWithFeedback(score, feedback)


def reflection_lm(**kw) -> dspy.LM:
    """Writes into the instruction what the feedback asks for: the color hint, and the missing rules."""

    def respond(call: ScriptedCall):
        current = call.field("current_instruction") or ""
        new = current
        if "Visual mistake" in call.prompt and COLOR_HINT not in current:
            new += f"\n{COLOR_HINT}"
        for rule in dict.fromkeys(re.findall(r"rule '(\w+ => \w+)'", call.prompt)):
            if rule not in new:
                new += f"\n{rule}"
        return {"new_instruction": new}

    return scripted_lm(respond, "scripted/vision-reflection", **kw)


def describe_then_answer(state, trajectories, subsample_scores, candidate_idx, candidate) -> list[str]:
    """A custom component selector: fix the description first, then the answer."""
    return ["describe"] if COLOR_HINT not in candidate["describe"] else ["answer"]


# ---------------------------------------------------------------------------- checks on recorded calls

def call_texts(call: ScriptedCall) -> list[str]:
    """Every text the request carried: the system text and each text part of each message."""
    texts = [call.system]
    for message in call.request.messages:
        texts.extend(part.text for part in message.parts if getattr(part, "text", None))
    return texts


def assert_no_base64_text(call: ScriptedCall, images: list[Any] = ()) -> None:
    for text in call_texts(call):
        assert ";base64," not in text
        assert not _B64_RUN.search(text), _B64_RUN.search(text).group(0)[:60]
        for image in images:
            assert payload(image)[8:40] not in text


def placeholders(text: str) -> list[int]:
    return [int(k) for k in _PLACEHOLDER.findall(text)]


def examples_text(call: ScriptedCall) -> str:
    return call.field("examples_with_feedback") or ""


def assert_parts_match_placeholders(call: ScriptedCall, labelled: bool) -> None:
    """Placeholders run 1..n in text order, one per image part, and (``labelled``) image part k comes right
    after the field header ``image_k``."""
    numbers = placeholders(examples_text(call))
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(call.images) == len(numbers)
    if labelled:
        parts = [p for m in call.request.messages for p in m.parts]
        k = 0
        for before, part in zip(parts, parts[1:], strict=False):
            if part in call.images:
                k += 1
                assert before.text.endswith(f"[[ ## image_{k} ## ]]\n"), before.text[-60:]
        assert k == len(numbers)


def image_of_each_placeholder(call: ScriptedCall, example_image: Callable[[str], Any]) -> list[tuple[Any, Any]]:
    """(expected image, image part sent) for each placeholder, where the expected image is found from the
    example section (``# Example i``) the placeholder appears in through ``example_image(section_text)``."""
    pairs = []
    for section in re.split(r"(?m)^# Example \d+\n", examples_text(call))[1:]:
        for k in placeholders(section):
            pairs.append((example_image(section), call.images[k - 1]))
    return pairs
