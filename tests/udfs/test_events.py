import json

import jsonschema
import pytest

from schemas import event_schema, event_types
from udfs.events import MAX_RAW_BYTES, compact, try_parse_event

GOOD = {"event_id": "e1", "user_id": "u1", "item_id": "i1", "event_type": "view", "event_time": 1_700_000_000_000,
        "dwell_ms": 1200, "category": "books", "tags": ["a"], "context": {"device": "web"}}


def test_valid_event_passes_and_round_trips():
    event, reason = try_parse_event(json.dumps(GOOD))
    assert reason is None and event == GOOD
    assert try_parse_event(compact(event))[0] == GOOD
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
