"""Item records, the keyed ItemAggregate and the popular lists (udfs.features.item_fold)."""
import json
import random

import pytest

from recstream.sources.synthetic import generate_events
from tests.conftest import assert_close
from udfs.features.item_fold import (ItemAggregate, PopularLists, decode_records, encode_record, encode_records,
                                     fold_item_bucket, item_record)
from udfs.features.items import ItemParams, fold_items, rank_items
from udfs.features.user_state import TYPE_INDEX

P = ItemParams()
EVENTS = generate_events(seed=4, n_users=40, n_items=60, n_events=3000, bot_users=0)


def records(events, flag=lambda e: False):
    return [item_record(e, TYPE_INDEX[e["event_type"]], flag(e)) for e in events]


def test_records_survive_the_wire_format_whatever_the_ids():
    odd = ["a\nb", "tab\there", "\x1f\x1e", 'quo"te', "ünï", "\u2028sep"]
    evs = [{"item_id": i, "event_time": n, "event_type": "click", "category": i} for n, i in enumerate(odd)]
    evs.append({"item_id": "x", "event_time": 9, "event_type": "view"})
    recs = records(evs, flag=lambda e: e["event_time"] % 2)
    text = encode_records(recs)
    assert "\n" not in text.replace("\n", "", len(recs) - 1)  # one line per record
    assert decode_records(text) == recs
    assert recs[-1] == ["x", 9, TYPE_INDEX["view"], 1, None]
    # the fold's direct encoder writes exactly what json.dumps would
    direct = [encode_record(e, TYPE_INDEX[e["event_type"]], e["event_time"] % 2) for e in evs]
    assert direct == [json.dumps(r, separators=(",", ":")) for r in recs]
    assert decode_records("\n".join(direct)) == recs and decode_records("") == []


def test_aggregate_row_does_not_depend_on_record_order():
    flag = lambda e: int(e["event_id"][1:]) % 11 == 0  # noqa: E731
    by_item: dict = {}
    for r, e in zip(records(EVENTS, flag), EVENTS):
        by_item.setdefault(e["item_id"], []).append(r)
    item, recs = max(by_item.items(), key=lambda kv: len(kv[1]))
    assert len(recs) > 100
    rows = []
    for seed in range(4):
        shuffled = recs[:] if seed == 0 else random.Random(seed).sample(recs, len(recs))
        agg = ItemAggregate(P)
        for r in shuffled:
            agg.apply(r, P)
        rows.append(agg.row(item, P))
    for row in rows[1:]:
        assert row[:3] == rows[0][:3]
        assert_close(json.loads(row[3]), json.loads(rows[0][3]))
        # the log key is ~1.4e4 (k * epoch ms), so summation order moves it by ~1e-12 absolute
        assert row[4] == pytest.approx(rows[0][4], rel=1e-10)


def test_aggregate_equals_fold_items_and_keeps_excluded_events_out():
    flag = lambda e: e["event_type"] == "click" and int(e["event_id"][1:]) % 3 == 0  # noqa: E731
    aggs: dict = {}
    for r in records(EVENTS, flag):
        aggs.setdefault(r[0], ItemAggregate(P)).apply(r, P)
    ref = fold_items(EVENTS, P, excluded=flag)
    assert set(aggs) == set(ref)
    for item, s in ref.items():
        _, event_time, seq, feats, pop = aggs[item].row(item, P)
        feats = json.loads(feats)
        assert feats.pop("category") == next(e["category"] for e in EVENTS if e["item_id"] == item)
        assert feats == s.features(P) and seq == s.state_seq()
        assert event_time == max(e["event_time"] for e in EVENTS if e["item_id"] == item)
    assert sum(a.state.excluded for a in aggs.values()) == sum(map(flag, EVENTS)) > 0


def test_bucket_fold_across_batches_equals_one_aggregate_per_item():
    flag = lambda e: int(e["event_id"][1:]) % 7 == 0  # noqa: E731
    recs = records(EVENTS, flag)
    states: dict = {}
    last_rows: dict = {}
    # three bucket batches; every item's records are spread over them, several items per batch
    for part in (recs[:1000], recs[1000:1001], recs[1001:]):
        rows = fold_item_bucket(encode_records(part), states, P)
        assert [r[0] for r in rows] == list(dict.fromkeys(r[0] for r in part))  # one row per item, first-seen order
        last_rows.update((r[0], r) for r in rows)
    ref: dict = {}
    for r in recs:
        ref.setdefault(r[0], ItemAggregate(P)).apply(r, P)
    assert set(states) == set(ref) == set(last_rows)
    for item, agg in ref.items():
        assert last_rows[item] == agg.row(item, P) + (agg.popularity_key(), agg.cat)
    assert fold_item_bucket("", states, P) == []


def test_category_is_the_newest_events_and_ties_break_by_name():
    a, b = ItemAggregate(P), ItemAggregate(P)
    recs = [["i", 5, 0, 0, "old"], ["i", 9, 0, 0, "b"], ["i", 9, 0, 0, "a"], ["i", 7, 0, 0, "mid"], ["i", 10, 0, 1, None]]
    for r in recs:
        a.apply(r, P)
    for r in reversed(recs):
        b.apply(r, P)
    assert a.cat == b.cat == "b" and a.seen_ts == b.seen_ts == 10


def test_excluded_only_item_has_a_row_but_no_popularity():
    agg = ItemAggregate(P)
    agg.apply(["i", 100, 1, 1, "c"], P)
    item, event_time, seq, feats, pop = agg.row("i", P)
    assert (event_time, seq, pop) == (100, 1, 0.0) and json.loads(feats)["excluded_events"] == 1
    lists = PopularLists(P, k=5)
    lists.update("i", agg.popularity_key(), agg.cat, event_time)
    assert lists.lists() == [] and lists.event_time == 100


def test_popular_lists_rank_like_rank_items_globally_and_per_category():
    states = fold_items(EVENTS, P)
    cats = {e["item_id"]: e["category"] for e in EVENTS}
    lists = PopularLists(P, k=10)
    for item, s in states.items():
        lists.update(item, s.popularity_key(), cats[item], s.last_ts)
    now = max(e["event_time"] for e in EVENTS)
    got = {scope: (t, items, scores) for scope, t, items, scores in lists.lists()}
    assert set(got) == {"global"} | {f"category:{c}" for c in cats.values()}
    for scope, (t, items, scores) in got.items():
        pool = states if scope == "global" else {i: s for i, s in states.items() if f"category:{cats[i]}" == scope}
        want = rank_items(pool, P, now, 10, by="decayed")
        assert t == now and items == [i for i, _ in want]
        assert scores == pytest.approx([v for _, v in want], rel=1e-9)
    assert not lists.dirty
