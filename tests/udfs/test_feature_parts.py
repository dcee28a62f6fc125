import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udfs.features.interest import DecayedInterest
from udfs.features.params import FeatureParams
from udfs.features.sequence import LastN
from udfs.features.sessions import Sessions
from udfs.features.windows import SlidingCounts

H = 3_600_000


def test_sliding_counts_evict_old_buckets_and_ignore_too_old_events():
    w = SlidingCounts(window_ms=300_000, buckets_per_window=60, n_types=2)  # 5 s buckets
    w.add(0, 0)
    w.add(1_000, 1)
    assert w.totals() == [1, 1]
    w.add(299_999, 0)  # same window as t=0 (buckets 0..59)
    assert w.totals() == [2, 1]
    w.add(300_000, 0)  # bucket 60: bucket 0 leaves the window
    assert w.totals() == [2, 0]
    w.add(4_000, 1)  # bucket 0 is outside the window of the newest event: ignored
    assert w.totals() == [2, 0]
    w.add(10_000_000, 1)
    assert w.totals() == [0, 1] and len(w.buckets) == 1


def test_interest_halves_after_one_half_life_and_is_order_insensitive():
    d = DecayedInterest(H, 10 * H, 8)
    d.add("a", 0, 4.0)
    s, l = d.value_at("a", H)
    assert s == pytest.approx(2.0) and l == pytest.approx(4.0 * 2 ** -0.1)
    rng = random.Random(1)
    events = [(rng.randint(0, 5 * H), w) for w in (1.0, 2.0, 3.0, 0.5, 4.0)]
    assert len({t for t, _ in events}) == len(events)
    a, b = DecayedInterest(H, 10 * H, 8), DecayedInterest(H, 10 * H, 8)
    for t, w in events:
        a.add("x", t, w)
    for t, w in sorted(events):
        b.add("x", t, w)
    now = 6 * H
    assert a.value_at("x", now) == pytest.approx(b.value_at("x", now), rel=1e-12)


def test_interest_snapshot_ranks_and_drift():
    d = DecayedInterest(H, 100 * H, 8)
    for t in range(10):
        d.add("old", t * 1000, 1.0)
    d.add("new", 20 * H, 5.0)
    snap = d.snapshot(20 * H, top=2)
    assert list(snap["short"]) == ["new", "old"]
    assert list(snap["long"]) == ["old", "new"]
    assert 0 < snap["short_long_drift"] < 1


def test_interest_caps_categories():
    d = DecayedInterest(H, H, max_categories=3)
    for i, c in enumerate("abcd"):
        d.add(c, 0, 1.0 + i)
    assert set(d.cats) == {"b", "c", "d"}


def test_last_n_keeps_newest_in_time_order():
    s = LastN(3)
    for t, item in [(5, "a"), (1, "b"), (9, "c"), (7, "d")]:
        s.add(t, item, 0)
    assert s.times == [5, 7, 9] and s.item_ids() == ["a", "d", "c"]
    s.add(2, "old", 0)  # older than all kept and list full
    assert s.item_ids() == ["a", "d", "c"]
    s.add(9, "tie", 0)  # ties keep arrival order
    assert s.item_ids() == ["d", "c", "tie"]


def test_sessions_split_on_gap():
    s = Sessions(gap_ms=1000)
    for t in (0, 500, 900, 5000, 5100):
        s.add(t, 10)
    snap = s.snapshot()
    assert snap["count"] == 2 and snap["current_events"] == 2 and snap["current_duration_ms"] == 100
    assert snap["current_dwell_ms"] == 20 and snap["avg_events"] == 2.5


def test_params_validation():
    with pytest.raises(ValueError, match="multiple of"):
        FeatureParams(windows_ms=(1000,), buckets_per_window=7)
    with pytest.raises(ValueError, match="unknown event types"):
        FeatureParams(event_weights={"teleport": 1.0})
    assert FeatureParams.window_label(86_400_000) == "24h" and FeatureParams.window_label(300_000) == "5m"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3_000_000), min_size=1, max_size=80))
def test_window_counts_undercount_by_at_most_one_bucket_and_never_overcount(times):
    # the documented bound: counted = events in [floor(now/b)*b - 59b, now], b = W/60
    W, n = 3_600_000, 60
    b = W // n
    w = SlidingCounts(window_ms=W, buckets_per_window=n, n_types=1)
    for t in times:  # arrival order as generated: out-of-order events too
        w.add(t, 0)
    now = max(times)
    counted = w.totals()[0]
    exact = sum(now - W < t <= now for t in times)
    oldest_kept = now // b * b - (n - 1) * b
    assert counted == sum(oldest_kept <= t <= now for t in times)
    assert counted <= exact and exact - counted == sum(now - W < t < oldest_kept for t in times)
    assert oldest_kept - (now - W) <= b  # the missed span is less than one bucket
