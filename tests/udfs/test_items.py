import math
import pickle
import random

import pytest

from udfs.features.anomaly import AnomalyParams, PopulationStats, excluded, fold_anomaly
from udfs.features.items import (ItemParams, ItemState, ItemWindow, PopularityTopK, fold_items, rank_items,
                                 window_totals_at)
from udfs.features.windows import SlidingCounts

H = 3_600_000
T0 = 1_767_225_600_000  # a multiple of one hour
P = ItemParams()


def ev(t, item="i1", etype="view", user="u1"):
    return {"event_id": f"e{item}{t}", "user_id": user, "item_id": item, "event_type": etype, "event_time": T0 + t}


def test_windowed_popularity_and_counts_as_of_now():
    s = ItemState(P)
    for t in (0, 30 * 60_000, 2 * H, 2 * H + 1):  # 2 views, a click, a purchase
        s.apply(ev(t, etype={0: "view", 30 * 60_000: "view", 2 * H: "click"}.get(t, "purchase")), P)
    f = s.features(P, now=T0 + 2 * H + 1)
    assert f["popularity"] == {"1h": 2.0, "24h": 4.0, "168h": 4.0}
    assert f["window_counts"]["1h"] == {"click": 1, "purchase": 1}
    assert f["counts"] == {"view": 2, "click": 1, "purchase": 1} and f["event_count"] == 4
    later = s.features(P, now=T0 + 30 * H)  # everything left the 24h window, not the 7d one
    assert later["popularity"] == {"1h": 0.0, "24h": 0.0, "168h": 4.0}
    assert f["conversion"] == {"click_per_view": 0.5, "purchase_per_click": 1.0, "purchase_per_view": 0.5}
    assert later["conversion_24h"] == {"click_per_view": None, "purchase_per_click": None, "purchase_per_view": None}


def test_trending_is_smoothed_short_over_long_rate():
    s = ItemState(P)
    assert s.trending(P, T0) == 1.0  # no events: neutral
    for h in range(23):  # one event per hour for 23 hours
        s.apply(ev(h * H + 10), P)
    for k in range(5):  # then 5 in the newest hour
        s.apply(ev(23 * H + 10 + k), P)
    now = T0 + 23 * H + 100
    # c_s = 5, c_l = 28; (5 + 1) / (28 * 1/24 + 1)
    assert s.trending(P, now) == pytest.approx(6 / (28 / 24 + 1), rel=1e-12)
    assert s.features(P, now)["trending"] == s.trending(P, now)
    p2 = ItemParams(trending_prior=3.0)
    assert s.trending(p2, now) == pytest.approx(8 / (28 / 24 + 3), rel=1e-12)


def test_popularity_weights_apply_to_windows_and_trending():
    p = ItemParams(popularity_weights={"purchase": 5.0, "view": 0.0})
    s = ItemState(p)
    s.apply(ev(0, etype="view"), p)
    s.apply(ev(1, etype="purchase"), p)
    s.apply(ev(2, etype="click"), p)
    assert s.features(p)["popularity"]["1h"] == 6.0
    assert s.decayed_popularity(p, T0 + 2) == pytest.approx(5 * 2 ** (-1 / (24 * H)) + 1, rel=1e-12)


def test_decayed_popularity_halves_per_half_life_and_ignores_order():
    a, b = ItemState(P), ItemState(P)
    times = [0, 3 * H, 7 * H, 7 * H, 20 * H]
    for t in times:
        a.apply(ev(t), P)
    for t in reversed(times):
        b.apply(ev(t), P)
    now = T0 + 24 * H
    expected = sum(2 ** (-(24 * H - t) / (24 * H)) for t in times)
    assert a.decayed_popularity(P, now) == pytest.approx(expected, rel=1e-9)
    assert b.popularity_key() == pytest.approx(a.popularity_key(), rel=1e-14)
    assert ItemState(P).decayed_popularity(P, now) == 0.0


def test_excluded_events_only_count_as_excluded():
    s = ItemState(P)
    s.apply(ev(0), P)
    s.apply(ev(1, etype="click"), P, excluded=True)
    f = s.features(P)
    assert f["event_count"] == 1 and f["excluded_events"] == 1 and f["popularity"]["1h"] == 1.0
    assert s.state_seq() == 2


def test_item_window_matches_sliding_counts():
    rng = random.Random(11)
    for trial in range(20):
        a, b = SlidingCounts(H, 60, 3), ItemWindow(H, 60, 3)
        t = 0
        for _ in range(300):
            t += rng.choice([0, 1000, 60_000, 600_000, 3 * H]) if rng.random() < 0.8 else 0
            ts = max(0, t - rng.randint(0, 20 * 60_000))  # bounded disorder
            k = rng.randrange(3)
            a.add(ts, k)
            b.add(ts, k)
            assert b.totals() == a.totals()
            now = ts + rng.randint(0, 2 * H)
            assert window_totals_at(b, now) == window_totals_at(a, now)
        assert len(b.buckets) <= 2 * 60 + 1


def test_rank_items_by_each_score_with_ties_by_id():
    events = [ev(10, "b"), ev(20, "a"), ev(30, "c"), ev(40, "c"), ev(50, "c"), ev(60, "d"), ev(70, "d")]
    states = fold_items(events, P)
    now = T0 + 100
    assert rank_items(states, P, now, 3, "popularity:1h") == [("c", 3.0), ("d", 2.0), ("a", 1.0)]  # a before b
    assert [i for i, _ in rank_items(states, P, now, 2, "decayed")] == ["c", "d"]
    tr = rank_items(states, P, now, 5, "trending")  # only items with >= 3 short-window events
    assert tr == [("c", pytest.approx(4 / (3 / 24 + 1), rel=1e-12))]  # c_s = c_l = 3
    with pytest.raises(ValueError, match="unknown window"):
        rank_items(states, P, now, 3, "popularity:2h")
    with pytest.raises(ValueError):
        rank_items(states, P, now, 3, "alphabetical")


def test_popularity_topk_matches_batch_ranking_merges_and_is_bounded():
    rng = random.Random(2)
    events = [ev(rng.randint(0, 48 * H), f"i{min(int(rng.paretovariate(1.2)), 300)}") for _ in range(3000)]
    states = fold_items(events, P)
    now = T0 + 48 * H
    left, right = PopularityTopK(P.popularity_half_life_ms), PopularityTopK(P.popularity_half_life_ms)
    for i, s in states.items():  # two keyed operators, each owning half of the items
        (left if hash(i) % 2 else right).update(i, s.popularity_key())
    left.merge(right)
    top = left.top(10, now)
    expected = rank_items(states, P, now, 10, "decayed")
    assert [i for i, _ in top] == [i for i, _ in expected]
    assert [v for _, v in top] == pytest.approx([v for _, v in expected], rel=1e-9)
    stale = left.keys["i1"]
    left.update("i1", stale - 1.0)  # an older key of the same item never replaces a newer one
    assert left.keys["i1"] == stale
    small = PopularityTopK(P.popularity_half_life_ms, max_items=5)
    for i, s in states.items():
        small.update(i, s.popularity_key())
    assert len(small.keys) <= 10
    assert [i for i, _ in small.top(5, now)] == [i for i, _ in expected[:5]]


def test_topk_ties_by_item_id():
    t = PopularityTopK(H)
    for i in ("b", "c", "a"):
        t.update(i, 5.0)
    assert [i for i, _ in t.top(2, 0)] == ["a", "b"]
    assert t.top(1, H)[0][1] == pytest.approx(math.exp(5.0) / 2, rel=1e-12)


def test_bot_hammering_one_item_is_excluded_from_popularity():
    humans = [ev(k * 60_000 + u * 7, f"i{k % 5}", user=f"u{u}") for u in range(20) for k in range(30)]
    bot = [ev(i * 300, "spam", etype="click", user="bot") for i in range(1500)]
    events = sorted(humans + bot, key=lambda e: e["event_time"])
    ap = AnomalyParams()
    _, verdicts = fold_anomaly(events, ap, PopulationStats.for_params(ap))
    flagged = {e["event_id"] for e, v in zip(events, verdicts) if excluded(v, ap)}
    now = events[-1]["event_time"]
    naive = rank_items(fold_items(events, P), P, now, 3, "decayed")
    clean_states = fold_items(events, P, excluded=lambda e: e["event_id"] in flagged)
    clean = rank_items(clean_states, P, now, 6, "decayed")
    assert naive[0][0] == "spam"
    assert clean[-1][0] == "spam"  # below every item the humans used
    assert clean_states["spam"].excluded >= 0.95 * len(bot)


def test_state_pickles_compactly():
    s = ItemState(P)
    for t in range(0, 7 * 24 * H // 10, 60_000):  # an event per minute for 16.8 hours
        s.apply(ev(t, etype="view" if t % 3 else "click"), P)
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.features(P) == s.features(P)
    size = len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL))
    assert size < 4000, size  # 60 buckets x 3 windows at most


def test_params_validation():
    with pytest.raises(ValueError, match="must be one of"):
        ItemParams(trending_short_ms=60_000)
    with pytest.raises(ValueError, match="shorter"):
        ItemParams(trending_short_ms=86_400_000, trending_long_ms=3_600_000)
    with pytest.raises(ValueError, match="unknown types"):
        ItemParams(popularity_weights={"teleport": 1.0})
