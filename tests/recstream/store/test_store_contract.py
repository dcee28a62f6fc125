"""The OnlineStore contract, run against every backend (fixture ``store``: SQLite always,
Cassandra when RECSTREAM_CASSANDRA_HOSTS names a real cluster, otherwise skipped)."""
from __future__ import annotations

import itertools
import json
import random

import pytest

from recstream.store.base import DeadLetter, FeatureRow, ItemRow, ModelVersion, PopularItems, ScoreRow


def frow(user, t, seq, tag="x", seq_items=("i1",)):
    sequence = [{"item_id": i, "event_type": "click", "event_time": t} for i in seq_items]
    return FeatureRow(user, t, seq, json.dumps({"tag": tag, "event_count": seq}), json.dumps(sequence))


def srow(user, t, seq, items, drift=None, version="v1", cold=False):
    return ScoreRow(user, t, seq, version, cold, [0.5, -0.25, 0.125], list(items),
                    [float(len(items) - i) for i in range(len(items))], drift)


def test_newest_state_wins_whatever_the_write_order(store):
    assert store.upsert_features([frow("u1", 100, 5, "new")]) == 1
    store.upsert_features([frow("u1", 90, 9, "older-time")])
    store.upsert_features([frow("u1", 100, 4, "older-seq")])
    assert store.get_user_state("u1")["features"]["tag"] == "new"
    store.upsert_features([frow("u1", 100, 6, "same-time-newer-seq")])
    assert store.get_user_state("u1")["features"]["tag"] == "same-time-newer-seq"
    store.upsert_features([frow("u1", 101, 1, "newer-time")])  # e.g. keyed state expired: seq restarted
    got = store.get_user_state("u1")
    assert got["features"]["tag"] == "newer-time" and (got["event_time"], got["state_seq"]) == (101, 1)
    assert store.get_user_state("nobody") is None


def test_permuted_and_replayed_writes_converge_to_the_newest_state(store):
    states = [(1000, 1), (1000, 2), (1003, 3), (1003, 7), (1010, 8), (1010, 9), (1011, 10)]
    for n, order in enumerate(itertools.islice(itertools.permutations(states), 0, None, 701)):
        user = f"p{n}"
        for t, seq in order:
            store.upsert_features([frow(user, t, seq, f"{t}/{seq}", seq_items=[f"i{seq}"])])
        for t, seq in reversed(order):  # a replay of everything after a failover
            store.upsert_features([frow(user, t, seq, f"{t}/{seq}", seq_items=[f"i{seq}"])])
        got = store.get_user_state(user)
        assert got["features"]["tag"] == "1011/10", order
        assert [e["item_id"] for e in got["sequence"]] == ["i10"], order  # sequence moves with its state
    assert n >= 7


def test_user_state_round_trip(store):
    seq_items = [f"m{i}" for i in range(50)]
    row = FeatureRow("ü-1", 1_700_000_000_123, 42, json.dumps({"counts": {"click": 3}, "avg_rating": None,
                                                               "interest": {"short": {"Drama": 0.75}}}),
                     json.dumps([{"item_id": i, "event_type": "view", "event_time": 1_700_000_000_000 + k}
                                 for k, i in enumerate(seq_items)]))
    store.upsert_features([row])
    got = store.get_user_state("ü-1")
    assert got["user_id"] == "ü-1" and got["event_time"] == 1_700_000_000_123 and got["state_seq"] == 42
    assert got["features"] == json.loads(row.features)
    assert got["sequence"] == json.loads(row.sequence)
    assert isinstance(got["updated_at"], int) and got["updated_at"] > 1_600_000_000_000
    assert "scores" not in got


def test_scores_follow_the_same_ordering_and_join_the_user_state(store):
    assert store.get_top_k("u1") is None
    store.upsert_scores([srow("u1", 10, 2, ["a", "b"])])
    store.upsert_scores([srow("u1", 9, 9, ["old", "x"])])
    store.upsert_scores([srow("u1", 10, 3, ["c", "d"], drift=0.25, version="v2")])
    top = store.get_top_k("u1")
    assert top["items"] == ["c", "d"] and top["scores"] == pytest.approx([2.0, 1.0]) and top["drift"] == 0.25
    assert top["model_version"] == "v2" and top["cold_start"] is False
    assert top["embedding"] == pytest.approx([0.5, -0.25, 0.125], rel=1e-6)  # float32 in Cassandra
    assert (top["event_time"], top["state_seq"]) == (10, 3)
    store.upsert_features([frow("u1", 10, 3)])
    assert store.get_user_state("u1")["scores"]["items"] == ["c", "d"]


def test_cold_start_scores_without_drift(store):
    store.upsert_scores([srow("new", 5, 1, ["pop1", "pop2", "pop3"], drift=None, cold=True)])
    top = store.get_top_k("new")
    assert top["cold_start"] is True and top["drift"] is None and top["items"] == ["pop1", "pop2", "pop3"]


def test_upsert_users_writes_a_batch_and_keeps_the_newest_per_user(store):
    batch = []
    for i in range(60):
        f = frow(f"b{i:02d}", 1000 + i, i + 1, f"tag{i}")
        batch.append((f, srow(f.user_id, f.event_time, f.state_seq, [f"it{i}"]) if i % 3 else None))
    batch.append((frow("b05", 900, 1, "older-in-same-batch"), srow("b05", 900, 1, ["older"])))
    assert store.upsert_users(batch) == 61
    for i in range(60):
        got = store.get_user_state(f"b{i:02d}")
        assert got["features"]["tag"] == f"tag{i}"
        if i % 3:
            assert got["scores"]["items"] == [f"it{i}"]
        else:
            assert "scores" not in got
    assert store.get_top_k("b05")["items"] == ["it5"]
    states = sorted(store.iter_user_states(), key=lambda s: s["user_id"])
    assert [s["user_id"] for s in states] == [f"b{i:02d}" for i in range(60)]
    assert states[7]["sequence"] == [{"item_id": "i1", "event_type": "click", "event_time": 1007}]


def test_items_and_popularity(store):
    assert store.get_item("m1") is None and store.get_popular_items("global") is None
    store.upsert_items([ItemRow("m1", 50, 2, json.dumps({"category": "Drama"}), 3.5)])
    store.upsert_items([ItemRow("m1", 40, 9, json.dumps({"category": "old"}), 1.0)])
    item = store.get_item("m1")
    assert item["features"] == {"category": "Drama"} and item["popularity"] == 3.5 and item["event_time"] == 50
    store.set_popular_items([PopularItems("global", 200, ["m1", "m2"], [9.0, 4.5]),
                             PopularItems("category:Drama", 200, ["m1"], [3.5])])
    store.set_popular_items([PopularItems("global", 150, ["stale"], [1.0])])
    for _ in range(8):  # Cassandra reads one of several copies at random: every copy must agree
        pop = store.get_popular_items("global")
        assert pop["items"] == ["m1", "m2"] and pop["scores"] == [9.0, 4.5] and pop["event_time"] == 200
    assert store.get_popular_items("category:Drama")["items"] == ["m1"]
    assert store.get_popular_items("category:None") is None


def test_model_versions(store):
    assert store.model_versions("interest") == []
    store.register_model_versions([ModelVersion("interest", "sasrec-2", 2000, json.dumps({"hr10": 0.6})),
                                   ModelVersion("interest", "sasrec-1", 1000)])
    store.register_model_versions([ModelVersion("other", "x", 5)])
    got = store.model_versions("interest")
    assert [(v["version"], v["registered_at"]) for v in got] == [("sasrec-1", 1000), ("sasrec-2", 2000)]
    assert got[1]["card"] == {"hr10": 0.6} and got[0]["card"] == {}


def test_dead_letters_keep_order_reason_and_raw(store):
    letters = [DeadLetter("r1", "parse" if i % 2 else "late", f"reason {i}", f'{{"n": {i}}}') for i in range(40)]
    store.add_dead_letters(letters[:25])
    store.add_dead_letters(letters[25:] + [DeadLetter("r2", "late", "late", "{}")])
    got = store.dead_letters("r1", limit=1000)
    assert [(d["stage"], d["reason"], d["raw"]) for d in got] == [(d.stage, d.reason, d.raw) for d in letters]
    assert all(d["run_id"] == "r1" and isinstance(d["recorded_at"], int) for d in got)
    assert [d["raw"] for d in store.dead_letters("r1", limit=7)] == [d.raw for d in letters[:7]]
    assert len(store.dead_letters(limit=1000)) == 41 and len(store.dead_letters(limit=3)) == 3
    assert store.dead_letters("nobody") == []


def test_run_stats_are_set_not_added(store):
    assert store.run_stats("r1") == {}
    store.set_run_stats("r1", {"a.0": 1})
    store.set_run_stats("r1", {"a.0": 5, "b.0": 2})
    store.set_run_stats("r2", {"a.0": 9})
    assert store.run_stats("r1") == {"a.0": 5, "b.0": 2}


def test_run_ids_list_every_run_with_counters_sorted(store):
    assert "r-b" not in store.run_ids()
    store.set_run_stats("r-b", {"a.0": 1})
    store.set_run_stats("r-a", {"a.0": 1})
    store.set_run_stats("r-b", {"b.0": 1})
    ids = store.run_ids()
    assert ids == sorted(ids) and [i for i in ids if i.startswith("r-")] == ["r-a", "r-b"]


def test_random_interleaving_of_writers_matches_a_sorted_replay(store):
    """Two 'writers' (live job and a replay) interleave at random; the result is the newest state."""
    rng = random.Random(3)
    expected = {}
    writes = []
    for u in range(15):
        t, seq = 10_000, 0
        for _ in range(rng.randint(1, 12)):
            t += rng.choice([0, 0, 1, 5])  # equal event times are common (late events)
            seq += rng.randint(1, 3)
            writes.append(frow(f"w{u}", t, seq, f"{t}/{seq}"))
            expected[f"w{u}"] = f"{t}/{seq}"
    doubled = writes + writes
    rng.shuffle(doubled)
    for i in range(0, len(doubled), 7):
        store.upsert_features(doubled[i:i + 7])
    assert {s["user_id"]: s["features"]["tag"] for s in store.iter_user_states()} == expected
