"""The demo's built-in task: say whether a short customer review is positive or negative.

The program is ``dspy.Predict(ReviewSentiment)``: ``review -> sentiment``, a free-text field with DSPy's
default instruction ("Given the fields `review`, produce the fields `sentiment`."). The metric expects one
word, ``positive`` or ``negative``; the instruction never says so, and a 135M-parameter model answers with
anything from "Great" to a sentence of its own. That output convention is what the metric's feedback
states, first thing, for every wrong answer: a reflection LM that turns the feedback into a rule in the
instruction fixes most answers (docs/demo.md has the numbers). So the score moves only through the
instruction, which is what GEPA evolves, and the gain comes from a rule the reflection LM writes.

The reviews were written for this project; each has a gold label and, where the sentiment hides
behind negation, contrast or irony, a note that the feedback quotes.
"""

from __future__ import annotations

import dspy

__all__ = ["CONVENTION", "LABELS", "REVIEWS", "ReviewSentiment", "build_program", "load_splits", "review_metric"]

LABELS = ("positive", "negative")

# (review, gold label, note for the feedback or "")
REVIEWS: tuple[tuple[str, str, str], ...] = (
    ("I loved this movie, the acting was wonderful.", "positive", ""),
    ("Terrible service, I will never come back.", "negative", ""),
    ("The food was cold and the waiter was rude.", "negative", ""),
    ("Best purchase I made this year.", "positive", ""),
    ("It broke after two days.", "negative", "a product that breaks quickly disappoints"),
    ("Absolutely fantastic, highly recommend.", "positive", ""),
    ("Not worth the money.", "negative", "'not worth' is a complaint"),
    ("The hotel room was clean and the staff were friendly.", "positive", ""),
    ("I want a refund, this is a scam.", "negative", ""),
    ("What a great experience, thank you!", "positive", ""),
    ("The battery dies in an hour.", "negative", "a short battery life is a complaint"),
    ("Beautiful design and very easy to use.", "positive", ""),
    ("I was not disappointed at all.", "positive", "'not disappointed' means the reviewer is satisfied"),
    ("Hardly the masterpiece everyone promised.", "negative", "'hardly a masterpiece' is a let-down"),
    ("Could have been worse, but not by much.", "negative", "'not by much' means it was nearly as bad as it gets"),
    ("I expected to hate it, but it won me over.", "positive", "what counts is the end: it won the reviewer over"),
    ("The shoes fit perfectly and look great.", "positive", ""),
    ("Delivery took a month and the box was damaged.", "negative", ""),
    ("My kids adore this game.", "positive", ""),
    ("The screen cracked the first time I dropped it.", "negative", ""),
    ("Friendly staff, fair prices, cozy atmosphere.", "positive", ""),
    ("The soup tasted like dishwater.", "negative", ""),
    ("Works exactly as described, no complaints.", "positive", "'no complaints' is praise"),
    ("I regret buying this.", "negative", ""),
    ("The concert was the best night of my summer.", "positive", ""),
    ("Customer support never answered my emails.", "negative", ""),
    ("Sturdy, light and cheap. What more could I want?", "positive", ""),
    ("The instructions were confusing and parts were missing.", "negative", ""),
    ("A delightful little cafe with amazing pastries.", "positive", ""),
    ("Too loud, too crowded, too expensive.", "negative", ""),
    ("I can't stop listening to this album.", "positive", "'can't stop listening' means the reviewer loves it"),
    ("The app keeps crashing and losing my notes.", "negative", ""),
    ("Great value for the price.", "positive", ""),
    ("The paint started peeling within a week.", "negative", ""),
    ("Our guide was knowledgeable and funny.", "positive", ""),
    ("Oh great, another update that breaks everything.", "negative", "'oh great' is sarcastic here: the update broke things"),
    ("The mattress is so comfortable, I sleep like a baby.", "positive", ""),
    ("The taxi driver got lost and overcharged us.", "negative", ""),
    ("Not bad at all, I would buy it again.", "positive", "'not bad' plus buying again means satisfied"),
    ("Smells awful and stains everything.", "negative", ""),
    ("The course was clear, practical and well paced.", "positive", ""),
    ("I waited two hours and nobody helped me.", "negative", ""),
    ("This blender crushes ice like a champ.", "positive", ""),
    ("Flimsy plastic that snapped on day one.", "negative", ""),
    ("The view from our balcony was breathtaking.", "positive", ""),
    ("Save your money and skip this one.", "negative", "advising others to skip it is a warning"),
    ("Five stars, would stay here again.", "positive", ""),
    ("The headphones hurt my ears after ten minutes.", "negative", ""),
    ("Fresh ingredients and generous portions.", "positive", ""),
    ("The book started well but the ending ruined it.", "negative", "what counts is the end: the ending ruined it"),
    ("Setup took two minutes and it just works.", "positive", ""),
    ("Worst haircut I have ever had.", "negative", ""),
    ("I never thought a vacuum could make me this happy.", "positive", ""),
    ("The charger stopped working after a week.", "negative", ""),
    ("Lovely people and a spotless kitchen.", "positive", ""),
    ("The movie was so boring I fell asleep.", "negative", ""),
)


#: The output convention the metric's feedback states and the seed instruction does not.
CONVENTION = "The sentiment must be one word: 'positive' if the reviewer is pleased, 'negative' if not."


class ReviewSentiment(dspy.Signature):
    # No docstring on purpose: DSPy's default instruction names the fields, not the answer's form.
    review: str = dspy.InputField()
    sentiment: str = dspy.OutputField()


def build_program() -> dspy.Module:
    """The program to optimize: one ``dspy.Predict`` with :class:`ReviewSentiment`."""
    return dspy.Predict(ReviewSentiment)


def _example(review: str, label: str, note: str) -> dspy.Example:
    return dspy.Example(review=review, label=label, note=note).with_inputs("review")


def load_splits() -> tuple[list[dspy.Example], list[dspy.Example], list[dspy.Example]]:
    """(train, val, test): 16, 16 and 24 examples, fixed, with both labels in each split.

    The split does not depend on a seed, so every run reports its held-out score on the same test set.
    """
    examples = [_example(*row) for row in REVIEWS]
    train = examples[0:16]
    val = examples[16:32]
    test = examples[32:56]
    return train, val, test


def review_metric(gold: dspy.Example, pred: dspy.Prediction, trace=None, pred_name=None, pred_trace=None):
    """1.0 if the answer is the gold label (case and surrounding space aside), else 0.0; with feedback for GEPA's
    reflection that states the convention first, then this review's label and why.

    Returns a ``dspy.Prediction(score=..., feedback=...)`` (GEPA's metric protocol); ``float(result)``
    is not defined on it, so plain DSPy evaluation should read ``result.score``.
    """
    answer = str(getattr(pred, "sentiment", "") or "").strip()
    expected = gold.label
    if answer.lower() == expected:
        return dspy.Prediction(score=1.0, feedback=f"Correct: the sentiment is '{expected}'.")
    why = f" ({gold.note})" if gold.get("note") else ""
    got = f"the answer {answer!r} is wrong" if answer else "the answer is empty"
    return dspy.Prediction(score=0.0, feedback=f"{CONVENTION} This review is {expected}{why}; {got}.")
