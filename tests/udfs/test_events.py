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
    (b"\xff\xfe{}", "not UTF-8"),
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
