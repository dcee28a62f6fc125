import json
import pickle
import random

import pytest

from udfs.features.interactions import InteractionParams, UserInteractions, funnel_ratios, ratio

H = 3_600_000
T0 = 1_767_225_600_000


def ev(t, etype="view", item="i1", cat="c", **kw):
    e = {"event_id": f"e{t}", "user_id": "u", "item_id": item, "event_type": etype, "event_time": T0 + t, **kw}
    if cat is not None:
        e["category"] = cat
    return e


def test_ratio_definitions_with_zero_denominators():
    assert ratio(3, 0) is None and ratio(0, 4) == 0.0
    assert funnel_ratios(0, 0, 0) == {"click_per_view": None, "purchase_per_click": None, "purchase_per_view": None}
    assert funnel_ratios(4, 2, 1) == {"click_per_view": 0.5, "purchase_per_click": 0.5, "purchase_per_view": 0.25}
    assert funnel_ratios(1, 3, 0)["click_per_view"] == 3.0  # independent events: a ratio may exceed 1


def test_user_item_frequency_recency_dwell_last_type_and_ratios():
    p = InteractionParams()
    u = UserInteractions()
    u.apply(ev(0, "view", dwell_ms=1000), p)
    u.apply(ev(10_000, "click", dwell_ms=3000), p)
    u.apply(ev(20_000, "purchase"), p)  # no dwell: not in the mean
    u.apply(ev(15_000, "view", dwell_ms=2000), p)  # out of order: not the "last" event
    u.apply(ev(60_000, "view", item="i2", cat="d"), p)
    f = u.item("i1")
    assert f == {
        "count": 4, "last_event_time": T0 + 20_000, "recency_ms": 40_000, "last_event_type": "purchase",
        "dwell_ms": 6000, "mean_dwell_ms": 2000.0,
        "click_per_view": 0.5, "purchase_per_click": 1.0, "purchase_per_view": 0.5,
    }
    assert u.item("i2")["mean_dwell_ms"] is None and u.item("i2")["purchase_per_click"] is None
    assert u.item("nope") is None
    # equal event times: the one folded last is "last"
    u.apply(ev(20_000, "like"), p)
    assert u.item("i1")["last_event_type"] == "like"


def test_category_affinity_is_decayed_share():
    p = InteractionParams(affinity_half_life_ms=H)
    u = UserInteractions()
    u.apply(ev(0, cat="a"), p)
    u.apply(ev(H, cat="b", item="i2"), p)
    aff = u.affinities(p)  # a decayed one half-life: 0.5 vs 1.0
    assert aff == pytest.approx({"a": 1 / 3, "b": 2 / 3}, rel=1e-12)
    u.apply(ev(H // 2, cat="a", item="i3"), p)  # out of order: 2^-0.5 at T0+H
    a = 0.5 + 2 ** -0.5
    assert u.affinities(p) == pytest.approx({"a": a / (a + 1), "b": 1 / (a + 1)}, rel=1e-12)
    assert u.affinities(p, now=T0 + 2 * H) == pytest.approx(u.affinities(p), rel=1e-12)  # common decay cancels
    cats = u.features(p)["user_categories"]
    assert list(cats) == ["a", "b"] and cats["a"]["count"] == 2 and cats["a"]["last_event_time"] == T0 + H // 2


def test_items_evict_least_recently_touched():
    p = InteractionParams(max_items=3)
    u = UserInteractions()
    for t, item in enumerate(["i1", "i2", "i3", "i1", "i4"]):  # i1 touched again: i2 is the oldest touch
        u.apply(ev(t * 1000, item=item), p)
    assert list(u.items) == ["i3", "i1", "i4"]
    assert u.item("i1")["count"] == 2 and u.item("i2") is None
    u.apply(ev(9000, item="i5"), p)
    assert list(u.items) == ["i1", "i4", "i5"]


def test_categories_evict_smallest_decayed_count_ties_by_name():
    p = InteractionParams(max_categories=2, affinity_half_life_ms=H)
    u = UserInteractions()
    u.apply(ev(0, cat="b"), p)
    u.apply(ev(0, cat="a"), p)  # equal decayed counts
    u.apply(ev(0, cat="c"), p)  # third: evict the smallest, ties -> alphabetically first ("a")
    assert set(u.cats) == {"b", "c"}
    u.apply(ev(H, cat="c"), p)
    u.apply(ev(H, cat="d"), p)  # b: 0.5, c: 1.5, d: 1 -> b goes
    assert set(u.cats) == {"c", "d"}


def test_read_out_orders_and_limits():
    p = InteractionParams(top_items=2, top_categories=1)
    u = UserInteractions()
    assert u.features(p) == {"user_items": [], "user_categories": {}}
    u.apply(ev(5, item="b"), p)
    u.apply(ev(5, item="a"), p)
    u.apply(ev(1, item="z"), p)
    f = u.features(p)
    assert [r["item_id"] for r in f["user_items"]] == ["a", "b"]  # newest first, ties by id
    assert len(f["user_categories"]) == 1
    json.dumps(f)


def _random_events(n, seed):
    rng = random.Random(seed)
    t, out = 0, []
    for i in range(n):
        t += rng.randint(0, 120_000)
        jitter = rng.randint(-30_000, 0)  # bounded disorder
        out.append(ev(t + jitter, rng.choice(["view", "view", "click", "purchase", "like"]),
                      item=f"i{rng.randint(0, 60)}", cat=rng.choice(["a", "b", "c", "d", None]),
                      **({"dwell_ms": rng.randint(0, 9000)} if rng.random() < 0.5 else {})))
    return out


def test_stream_with_pickled_state_equals_batch_fold():
    p = InteractionParams(max_items=10, max_categories=3)
    events = _random_events(600, seed=3)
    batch = UserInteractions()
    for e in events:
        batch.apply(e, p)
    stream = UserInteractions()
    for e in events:  # the job pickles the state between micro-batches
        stream = pickle.loads(pickle.dumps(stream))
        stream.apply(e, p)
    assert stream.features(p) == batch.features(p)
    assert stream.items == batch.items and stream.cats == batch.cats


def test_state_is_bounded_and_small_when_pickled():
    p = InteractionParams()
    u = UserInteractions()
    for i, e in enumerate(_random_events(2000, seed=5)):
        u.apply({**e, "category": f"cat{i % 40}"}, p)
    assert len(u.items) == p.max_items == 20 and len(u.cats) == p.max_categories == 24
    size = len(pickle.dumps(u, protocol=pickle.HIGHEST_PROTOCOL))
    assert size < 2400, size
    assert pickle.loads(pickle.dumps(u)).features(p) == u.features(p)


def test_params_validation():
    with pytest.raises(ValueError, match="max_items"):
        InteractionParams(max_items=0)
