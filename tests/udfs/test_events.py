import json

import jsonschema
import pytest

from schemas import event_schema, event_types
from udfs.events import MAX_RAW_BYTES, try_parse_event

GOOD = {"event_id": "e1", "user_id": "u1", "item_id": "i1", "event_type": "view", "event_time": 1_700_000_000_000,
        "dwell_ms": 1200, "category": "books", "tags": ["a"], "context": {"device": "web"}}


def test_valid_event_passes_and_round_trips():
    event, reason = try_parse_event(json.dumps(GOOD))
    assert reason is None and event == GOOD
    assert try_parse_event(json.dumps(event, separators=(",", ":")))[0] == GOOD
    assert try_parse_event(json.dumps(GOOD).encode())[0] == GOOD


@pytest.mark.parametrize("payload, fragment", [
    ("", "empty payload"),
    ("{not json", "malformed JSON"),
    ("[1, 2]", "must be a JSON object"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "user_id"}), "user_id"),
    (json.dumps({**GOOD, "event_type": "teleport"}), "event_type must be one of"),
    (json.dumps({**GOOD, "event_time": "yesterday"}), "event_time must be integer"),
    (json.dumps({**GOOD, "event_time": True}), "not booleans"),
    (json.dumps({**GOOD, "dwell_ms": -1}), "dwell_ms must be bigger than or equal to 0"),
    (json.dumps({**GOOD, "event_type": "rating"}), "rating"),
    (json.dumps({**GOOD, "event_type": "rating", "rating": 9}), "rating must be smaller"),
    (json.dumps({**GOOD, "user_id": ""}), "user_id must be longer"),
    (b"\xff\xfe{}", "invalid UTF-8"),
    ("x" * (MAX_RAW_BYTES + 1), "too large"),
])
def test_invalid_events_get_a_reason(payload, fragment):
    event, reason = try_parse_event(payload)
    assert event is None
    assert fragment in reason


def test_fast_validator_agrees_with_reference_jsonschema():
    schema = event_schema()
    samples = [GOOD, {**GOOD, "event_type": "rating", "rating": 3.5}, {**GOOD, "event_type": "rating"},
               {**GOOD, "tags": [""]}, {**GOOD, "event_time": -5}, {**GOOD, "extra": 1}]
    for s in samples:
        ok_ref = jsonschema.Draft7Validator(schema).is_valid(s)
        ok_fast = try_parse_event(json.dumps(s))[0] is not None
        assert ok_ref == ok_fast, s


def test_event_types_cover_the_brief():
    assert {"view", "click", "like", "add_to_cart", "purchase", "rating", "search", "share"} <= set(event_types())


def test_fast_path_agrees_with_reference_on_random_mutations():
    """The cheap validator must never accept what the schema rejects (and vice versa)."""
    import random

    rng = random.Random(42)
    validator = jsonschema.Draft7Validator(event_schema())
    values = [None, True, False, 0, -1, 1.5, 2**53, 4102444800001, "", "x", "x" * 129, [], ["a"], [""], {}, {"a": 1},
              "view", "rating", 3, 5.0, 5.5, ["t"] * 33]
    keys = list(event_schema()["properties"]) + ["extra"]
    base = {**GOOD, "event_type": "rating", "rating": 4.5}
    for _ in range(3000):
        e = dict(rng.choice([GOOD, base]))
        for _ in range(rng.randint(1, 3)):
            k = rng.choice(keys)
            if rng.random() < 0.2:
                e.pop(k, None)
            else:
                e[k] = rng.choice(values)
        ok_ref = validator.is_valid(e)
        ok = try_parse_event(json.dumps(e))[0] is not None
        assert ok == ok_ref, e


def _line(user='"x1"', time="1767225820593", extra=""):
    return ('{"event_id":"e1","user_id":%s,"item_id":"i1","event_type":"view","event_time":%s%s}'
            % (user, time, extra))


@pytest.mark.parametrize("time", ["1767225820593.0", "1.767225820593e12", "1767225820593.000", "17672258205930e-1"])
def test_an_integer_valued_float_time_is_an_integer(time):
    event, reason = try_parse_event(_line(time=time))
    assert reason is None and event["event_time"] == 1767225820593 and type(event["event_time"]) is int
    event, _ = try_parse_event(_line(extra=',"dwell_ms":1500.0'))
    assert event["dwell_ms"] == 1500 and type(event["dwell_ms"]) is int


@pytest.mark.parametrize("payload, fragment", [
    (_line(time="1767225820593.5"), "event_time must be integer"),
    (_line('"u1\ufffd"'), "invalid UTF-8 or U+FFFD"),               # how a file reader hands over bad bytes
    (_line('"u1"').encode().replace(b"u1", b"u1\xff"), "invalid UTF-8"),
    (_line(extra=',"rating":NaN'), "non-finite number NaN"),
    (_line(extra=',"rating":Infinity'), "non-finite number Infinity"),
    (_line(extra=',"context":{"a":-Infinity}'), "non-finite number -Infinity"),
    (_line(extra=',"context":{"a":1e400}'), "number out of range"),
    (_line('"attacker"', extra=',"user_id":"victim"'), "duplicate key 'user_id'"),
    (_line(extra=',"context":{"a":1,"a":1}'), "duplicate key 'a'"),
    (_line('"x\\ud800"'), "lone surrogate"),
    (_line('"x\ud800"'), "lone surrogate"),
    ("\ufeff" + _line(), "byte-order mark"),
    (_line(extra=',"context":{"n":%s}' % ("1" * 5000)), "number too long: 5000 characters"),
    (_line(extra=',"context":{"n":%s}' % ("[" * 33 + "]" * 33)), "nested too deep"),
    (_line(extra=',"context":{"n":%s}' % ("[" * 5000 + "]" * 5000)), "nested too deep"),
])
def test_hostile_payloads_are_rejected_with_a_reason_that_names_the_rule(payload, fragment):
    event, reason = try_parse_event(payload)
    assert event is None and fragment in reason


@pytest.mark.parametrize("user", ['"\ufeffx"', '"\\ufeffx"', '"\\ud83d\\ude00"', '"a\\u0000b"', '"\\ufffd"'])
def test_unusual_but_unambiguous_ids_are_accepted(user):
    event, reason = try_parse_event(_line(user))
    assert reason is None and event["user_id"] == json.loads(user)


def test_brackets_inside_strings_do_not_count_as_nesting():
    event, reason = try_parse_event(_line(extra=',"context":{"s":"%s"}' % ("[" * 200)))
    assert reason is None and event["context"]["s"] == "[" * 200
