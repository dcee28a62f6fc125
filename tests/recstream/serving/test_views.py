"""Response shapes: stored JSON passed through gives the same answer as decoded values."""
from __future__ import annotations

import json

import orjson
import pytest

from recstream.serving import views

STATE = {"user_id": "u1", "event_time": 1_000, "state_seq": 2, "updated_at": 1_500,
         "features": {"event_count": 3, "interest": {"short": {"cat1": 0.5, "cat2": -0.25}}, "f": 0.1 + 0.2},
         "sequence": [{"item_id": f"i{i}", "event_type": "view", "event_time": i} for i in range(5)],
         "scores": {"items": ["a", "b", "c"], "scores": [3.0, 2.0, 1.0], "embedding": [0.5], "model_version": "v1",
                    "cold_start": False, "event_time": 900, "updated_at": 1_400, "drift": 0.25}}


def _raw(state):
    return {**state, "features": json.dumps(state["features"]), "sequence": json.dumps(state["sequence"])}


@pytest.mark.parametrize("n", [None, 2])
def test_raw_json_and_decoded_states_give_the_same_answer(n):
    a = orjson.loads(orjson.dumps(views.user_view(STATE, views.FIELDS, 2_000, None, 2, n)))
    b = orjson.loads(orjson.dumps(views.user_view(_raw(STATE), views.FIELDS, 2_000, None, 2, n)))
    assert a == b
    assert a["sequence"] == STATE["sequence"][-n:] if n else STATE["sequence"]
    assert a["top_k"] == {"items": ["a", "b"], "scores": [3.0, 2.0], "cold_start": False}
    assert a["staleness"] == {"state_event_age_ms": 1_000, "state_written_age_ms": 500, "score_event_age_ms": 1_100,
                              "score_written_age_ms": 600, "score_behind_state_ms": 100}


@pytest.mark.parametrize("as_of", ["event", "now"])
def test_stored_nan_goes_out_as_valid_json(as_of):
    state = {**STATE, "features": json.dumps({"avg": float("nan")}), "sequence": "[]"}
    out = orjson.dumps(views.user_view(state, ("features",), 2_000, as_of))
    assert json.loads(out)["features"]["avg"] is None


def test_fields_and_time_parsing():
    assert views.parse_fields(None) == views.FIELDS and views.parse_fields("model, top_k") == ("model", "top_k")
    with pytest.raises(views.BadInput, match="unknown field"):
        views.parse_fields("top_k,secret")
    assert views.parse_time_ms("2026-01-01T00:00:00Z") == views.parse_time_ms("2026-01-01T00:00:00") \
        == 1767225600000
    assert views.parse_time_ms("17") == 17
    with pytest.raises(views.BadInput):
        views.check_as_of(STATE, 999)
    views.check_as_of(STATE, 1_000)
