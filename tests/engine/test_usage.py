"""Usage records (``engine/usage.py``): tokens and dollars by role and model; a cache hit costs nothing and an
unpriced call is counted, never guessed."""

from dspy_gepa.engine import usage

USAGE = {"task": {"m1": {"calls": 2, "cached": 1, "input_tokens": 10, "output_tokens": 5, "cost": 0.5}},
         "reflection": {"m2": {"calls": 1, "input_tokens": 7, "unpriced": 1}}}


def test_totals_by_role_and_overall():
    assert usage.totals(USAGE) == usage.Totals(calls=3, cached=1, input_tokens=17, output_tokens=5, cost=0.5,
                                               unpriced=1)
    assert usage.totals(USAGE, ["reflection"]).as_dict() == {"calls": 1, "cached": 0, "input_tokens": 7,
                                                             "output_tokens": 0, "cost": 0.0, "unpriced": 1}
    assert usage.by_role(USAGE)["task"]["cost"] == 0.5 and usage.cost(USAGE, ["judge"]) == 0.0


def test_merge_adds_rows_in_place_and_skips_what_is_not_a_record():
    into = {}
    assert usage.merge(into, USAGE) is into
    usage.merge(into, {"task": {"m1": {"calls": 1, "cost": None}}, "note": "not a role"})
    usage.merge(into, None)
    assert into["task"]["m1"] == {"calls": 3, "cached": 1, "input_tokens": 10, "output_tokens": 5, "cost": 0.5,
                                  "unpriced": 0}
    assert "note" not in into
    assert usage.combine([USAGE, None, USAGE])["reflection"]["m2"]["calls"] == 2


def test_unknown_is_not_zero():
    assert usage.known_cost(USAGE, ["reflection"]) is None  # its one paid call has no price
    assert usage.known_cost(USAGE, ["task"]) == 0.5
    assert usage.known_cost({}) == 0.0
    cached_only = {"task": {"m": {"calls": 2, "cached": 2}}}
    assert usage.known_cost(cached_only) == 0.0  # cache hits cost nothing, and that is known


def test_a_total_is_priced_once_one_call_had_a_price():
    assert usage.priced_cost(USAGE, ["reflection"]) is None
    assert usage.priced_cost(USAGE) == 0.5
    assert usage.priced_cost({"task": {"m": {"calls": 2, "cached": 2}}}) is None
