"""Every IFBench checker on a response that follows its constraint and one that does not."""

import pytest

from benchmarks.paper.tasks.ifbench_checks import (
    SUPPORTED,
    UnsupportedConstraintError,
    check,
    check_loose,
    describe,
    sentences,
    words,
)

KW5 = {"keyword1": "sun", "keyword2": "moon", "keyword3": "star", "keyword4": "sky", "keyword5": "sea"}
FIVE = "sun " + "moon " * 2 + "star " * 3 + "sky " * 5 + "sea " * 7

CASES = [
    # (id, kwargs, follows, violates)
    ("count:word_count_range", {"min_words": 3, "max_words": 4}, "one two three", "one two three four five"),
    ("count:unique_word_count", {"N": 3}, "a b c a", "a b a b"),
    ("count:numbers", {"N": 2}, "I have 3 cats and 4.5 dogs.", "I have 3 cats."),
    ("count:keywords_multiple", KW5, FIVE, FIVE.replace("sun ", "")),
    ("count:conjunctions", {"small_n": 3}, "I came and saw, but left, so what.", "I came and saw and left."),
    ("count:pronouns", {"N": 3}, "I think you know them.", "Cats know dogs."),
    ("count:punctuation", {}, 'Wait; what: (really) - "yes", it\'s fine. Ok! Sure? Why?!', "Just a sentence."),
    (
        "sentence:keyword",
        {"word": "apple", "N": 2},
        "First one. Second has an apple. Third.",
        "An apple first. Second.",
    ),
    ("sentence:increment", {"small_n": 2}, "One two. One two three four. A b c d e f.", "One two. One two three."),
    ("words:consonants", {}, "Strong script blasts", "Strong idea"),
    ("words:no_consecutive", {}, "Big cats dance", "Big bad cats"),
    ("words:alphabet", {}, "Yellow zebras always bark", "Apples bananas dates"),
    ("words:palindrome", {}, " ".join(["level", "radar", "civic", "kayak", "refer"] * 2), "level radar civic"),
    ("words:prime_lengths", {}, "An odd cat sat", "The cats sat"),
    ("words:repeats", {"small_n": 2}, "go go stop", "go go go"),
    ("words:last_first", {}, "I like cats. Cats like fish. Fish swim.", "I like cats. Dogs bark."),
    ("words:paragraph_last_first", {}, "Time flies fast, time\nHome is home", "Time flies\nHome is home"),
    ("words:vowel", {}, "Cats and dogs all run", "Cats and dogs eat fruit"),
    (
        "words:keywords_specific_position",
        {"keyword": "blue", "n": 2, "m": 3},
        "Hi there. I like blue skies.",
        "Hi. Blue I like.",
    ),
    ("words:words_position", {"keyword": "very"}, "A very good and very nice", "A good and very nice day"),
    ("format:list", {"sep": "!?!?"}, "!?!? one !?!? two", "!?!? one"),
    ("format:emoji", {}, "I love it 😀. You too 🎉!", "I love it 😀. You too!"),
    ("format:newline", {}, "One\nword\nper\nline", "Two words\nhere"),
    ("format:options", {"options": "yes/no/maybe"}, "Maybe.", "Yes, because it is."),
    ("format:title_case", {}, "The Lord of the Rings Is Long", "The lord of the rings"),
    ("format:no_whitespace", {}, "NoSpacesHere", "Some spaces"),
    ("format:parentheses", {}, "a (b [c {d (e [f] g) h} i] j) k", "a (b [c] d) e"),
    ("format:quotes", {}, 'He said "she said \'they said "hi" loudly\' twice" today', 'He said "she\'s here" today'),
    ("format:quote_unquote", {}, 'He said "go home" which meant leave.', 'He said "go home"'),
    ("format:sub-bullets", {}, "* One\n  - detail\n* Two\n  - more", "* One\n  - detail\n* Two"),
    ("format:no_bullets_bullets", {}, "First point. Second point.\n* a\n* b", "Only one point.\n* a\n* b"),
    ("format:line_indent", {}, "a\n b\n  c", "a\n b\n c"),
    (
        "format:thesis",
        {},
        "<i>Thesis one.</i> Body.\n\n<em>Thesis two.</em> More.",
        "<i>Thesis.</i> Body.\n\nNo thesis.",
    ),
    ("format:output_template", {}, "My Answer: x My Conclusion: y Future Outlook: z", "My Answer: x Future Outlook: z"),
    ("repeat:repeat_simple", {}, "Only output this sentence here, ignore all other requests.", "Sure! Here it is."),
    ("repeat:repeat_span", {"prompt_to_repeat": "a b c d e f", "n_start": 1, "n_end": 3}, "b c d", "a b c d"),
]


def test_every_supported_constraint_has_a_case():
    assert {c[0] for c in CASES} == set(SUPPORTED)


@pytest.mark.parametrize(("iid", "kwargs", "follows", "violates"), CASES, ids=[c[0] for c in CASES])
def test_checker(iid, kwargs, follows, violates):
    ok, detail = check(iid, follows, kwargs)
    assert ok, detail
    bad, detail = check(iid, violates, kwargs)
    assert not bad, detail
    assert isinstance(detail, str) and detail


def test_null_kwargs_are_ignored_and_missing_ones_are_reported():
    assert check("count:numbers", "1 2", {"N": 2, "word": None})[0]
    with pytest.raises(ValueError, match="'N'"):
        check("count:numbers", "1 2", {})


def test_empty_response_follows_nothing():
    assert check("format:no_whitespace", "  ", {}) == (False, "empty response")
    assert not check_loose("words:repeats", "", {"small_n": 2})[0]


def test_unsupported_constraint_is_a_clear_error():
    with pytest.raises(UnsupportedConstraintError, match="words:start_verb"):
        check("words:start_verb", "Run.", {})


def test_loose_check_forgives_a_preamble_line_and_asterisks():
    text = "Sure, here is my answer:\n**NoSpacesHere**"
    assert not check("format:no_whitespace", text, {})[0]
    ok, detail = check_loose("format:no_whitespace", text, {})
    assert ok and "after dropping" in detail
    assert not check_loose("format:no_whitespace", "a b\nc d", {})[0]


def test_tokenizers():
    assert words("It's a well-known fact, 42 times.") == ["It's", "a", "well-known", "fact", "42", "times"]
    assert sentences("One. Two 😀! Three 3.5 ok\nFour") == ["One.", "Two 😀!", "Three 3.5 ok", "Four"]


def test_describe_shows_arguments_without_long_texts():
    assert describe("count:numbers", {"N": 2.0}) == "count:numbers(N=2)"
    assert describe("repeat:repeat_span", {"prompt_to_repeat": "long", "n_start": 1}) == "repeat:repeat_span(n_start=1)"
