"""Read-time evaluation of stored feature rows (udfs.features.as_of) against the state itself."""
import json
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udfs.features.as_of import AsOfError, features_as_of
from udfs.features.params import FeatureParams
from udfs.features.runtime import FoldOptions, FoldRuntime
from udfs.features.user_state import UserState

P = FeatureParams(allowed_lateness_ms=600_000, interactions_on=True, anomaly_on=True)
M = 60_000
H = 60 * M
BASE = 1_767_225_600_000
TYPES = ["view", "click", "purchase", "rating", "like"]


def ev(t, etype="view", item="i1", category="c", **kw):
    e = {"event_id": f"e{t}", "user_id": "u", "item_id": item, "event_type": etype, "event_time": t,
         "category": category, **kw}
    if etype == "rating":
        e.setdefault("rating", 4.0)
    return e


def stored_row(state: UserState) -> dict:
    """The features dict as a reader gets it: rendered by the job's renderer, JSON round trip."""
    return orjson.loads(FoldRuntime(FoldOptions(), P).features_json(state, P))


def test_idle_user_has_empty_short_windows_and_decayed_interest():
    s = UserState(P)
    for i in range(5):
        s.apply(ev(BASE + i * 1000, "click", category="shoes"), P)
    row = stored_row(s)
    assert row["window_counts"]["5m"] == {"click": 5}
    later = features_as_of(row, row["last_event_time"] + 2 * H)
    assert later["window_counts"]["5m"] == {} and later["window_counts"]["1h"] == {}
    assert later["window_counts"]["24h"] == {"click": 5}
    assert later["as_of"] == later["windows_as_of"] == row["last_event_time"] + 2 * H
    # short half-life 2 h: halved after two idle hours; the long one barely moved
    assert later["interest"]["short"]["shoes"] == pytest.approx(row["interest"]["short"]["shoes"] / 2)
    assert later["interest"]["long"]["shoes"] < row["interest"]["long"]["shoes"]
    assert later["interest"]["short_long_drift"] == row["interest"]["short_long_drift"]


def test_at_the_rows_own_time_nothing_changes():
    s = UserState(P)
    for i in range(30):
        s.apply(ev(BASE + i * 7 * M, TYPES[i % 4], category=f"c{i % 3}"), P)
    row = stored_row(s)
    same = features_as_of(row, row["last_event_time"])
    assert same["window_counts"] == row["window_counts"] and same["interest"] == row["interest"]


def test_a_time_before_the_newest_event_is_refused():
    s = UserState(P)
    s.apply(ev(BASE), P)
    with pytest.raises(AsOfError, match="before the row's newest event"):
        features_as_of(stored_row(s), BASE - 1)


def test_row_without_tiles_is_read_as_of_its_event_time():
    s = UserState(P)
    s.apply(ev(BASE, "click"), P)
    row = stored_row(s)
    row.pop("tiles")
    later = features_as_of(row, BASE + 2 * H)
    assert later["window_counts"] == row["window_counts"] and later["windows_as_of"] == BASE


def test_tiles_follow_the_documented_encoding():
    s = UserState(P)
    s.apply(ev(BASE + 1000, "click"), P)
    s.apply(ev(BASE + 2000, "purchase"), P)
    tile = stored_row(s)["tiles"]["windows"]["5m"]
    bucket_ms = 300_000 // P.buckets_per_window
    assert tile["window_ms"] == 300_000 and tile["bucket_ms"] == bucket_ms
    # counts per type in schemas' event-type order: view, click, like, add_to_cart, purchase, ...
    assert tile["buckets"] == [[(BASE + 1000) // bucket_ms, 0, 1, 0, 0, 1, 0, 0, 0]]


events = st.lists(st.tuples(st.integers(0, 30 * H), st.sampled_from(TYPES), st.sampled_from(["a", "b", "c"])),
                  min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(events, st.integers(0, 3 * 86_400_000))
def test_read_time_counts_and_interest_equal_the_state_evaluated_then(evs, idle_ms):
    """Oracle: window counts by brute force over the applied events, interest by the state's own
    snapshot at that time."""
    s = UserState(P)
    applied = []
    for t, etype, cat in evs:
        e = ev(BASE + t, etype, category=cat)
        if s.apply(e, P):
            applied.append(e)
    row = stored_row(s)
    t = row["last_event_time"] + idle_ms
    got = features_as_of(row, t)
    for wms in P.windows_ms:
        bms = wms // P.buckets_per_window
        want: dict = {}
        for e in applied:
            if e["event_time"] // bms > t // bms - P.buckets_per_window:
                want[e["event_type"]] = want.get(e["event_type"], 0) + 1
        assert got["window_counts"][FeatureParams.window_label(wms)] == want
    ref = s.interest.snapshot(t, P.top_categories)
    for part in ("short", "long"):
        assert list(got["interest"][part]) == list(ref[part])  # same labels, same order
        for c, v in ref[part].items():
            assert math.isclose(got["interest"][part][c], v, rel_tol=1e-9, abs_tol=1e-12)
    json.dumps(got)
