import json

from benchmarks.scripted.rules import NO_RULE_ANSWER, apply_rules, hint_line, make_instruction, parse, rules_in


def test_instruction_round_trips_through_parse():
    text = make_instruction("route", "Route the ticket.", {"abc": "billing", "xyz": "refunds"})
    parsed = parse(text)
    assert parsed.steps == ["route"]
    assert parsed.rules["route"] == {"abc": "billing", "xyz": "refunds"}
    assert parsed.tasks["route"] == "Route the ticket."
    assert parsed.hints == {}


def test_parse_survives_json_escaping_and_separates_hints_from_rules():
    instruction = make_instruction("decode", "Decode it.", {"aa": "x1"})
    examples = [{"Feedback": "Wrong. " + hint_line("decode", "bb", "x2")}, {"Feedback": "Correct."}]
    prompt = f"current: {json.dumps(instruction)}\nexamples: {json.dumps(examples)}"
    parsed = parse(prompt)
    assert parsed.rules["decode"] == {"aa": "x1"}
    assert parsed.hints == {"decode": {"bb": "x2"}}


def test_rules_belong_to_the_last_step_seen_and_first_key_wins():
    text = "STEP: a\nRULE[k]: answer one\nRULE[k]: answer two\nSTEP: b\nRULE[m]: answer three"
    parsed = parse(text)
    assert parsed.rules == {"a": {"k": "one"}, "b": {"m": "three"}}


def test_rules_in_honours_the_limit_and_ignores_hints():
    text = "RULE[a]: answer 1\n" + hint_line("s", "h", "9") + "\nRULE[b]: answer 2\nRULE[c]: answer 3"
    assert rules_in(text) == {"a": "1", "b": "2", "c": "3"}
    assert rules_in(text, limit=2) == {"a": "1", "b": "2"}


def test_apply_rules_matches_whole_words_in_rule_order():
    rules = {"zed": "first", "abc": "second"}
    assert apply_rules(rules, "please see abc and zed") == "first"
    assert apply_rules(rules, "abcd only") == NO_RULE_ANSWER
