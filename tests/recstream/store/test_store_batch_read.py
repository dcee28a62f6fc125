"""Store contract: a batch read returns what single reads return, for every backend."""
from __future__ import annotations

import json

from recstream.reader import Reader
from recstream.store.base import FeatureRow, ScoreRow


def _fill(store):
    store.upsert_users([
        (FeatureRow("u1", 100, 3, json.dumps({"event_count": 3}), json.dumps([{"item_id": "m9"}])),
         ScoreRow("u1", 100, 3, "v7", False, [0.5, 0.25], ["m1", "m2"], [2.0, 1.0], 0.125)),
        (FeatureRow("u2", 50, 1, json.dumps({"event_count": 1}), "[]"), None),
        (FeatureRow("ü 3", 70, 2, "{}", "[]"),
         ScoreRow("ü 3", 70, 2, "v7", True, [], ["m5"], [0.5], None)),
    ])


def test_batch_read_equals_single_reads(store):
    _fill(store)
    got = store.get_user_states(["u1", "nobody", "u2", "ü 3", "u1"])
    assert set(got) == {"u1", "u2", "ü 3"}
    for uid, state in got.items():
        assert state == store.get_user_state(uid)
    assert got["u1"]["scores"]["items"] == ["m1", "m2"] and got["u1"]["scores"]["drift"] == 0.125
    assert "scores" not in got["u2"]
    assert got["ü 3"]["scores"]["cold_start"] is True
    assert store.get_user_states([]) == {}


def test_reader_batch_read_can_leave_scores_out(store):
    _fill(store)
    r = Reader(store)
    assert all("scores" not in s for s in r.get_user_states(["u1", "ü 3"], with_scores=False).values())
    assert r.get_user_states(["u1"])["u1"]["scores"]["model_version"] == "v7"


def test_batch_read_of_many_users(store):
    store.upsert_users([(FeatureRow(f"u{i}", i, 1, json.dumps({"n": i}), "[]"), None) for i in range(1200)])
    got = store.get_user_states([f"u{i}" for i in range(0, 1400, 2)])
    assert len(got) == 600 and got["u998"]["features"] == {"n": 998}


def test_batch_read_keeps_values_the_fast_decoder_refuses(store):
    """NaN (json.dumps writes it) and integers beyond 64 bits read back as single reads give them."""
    feats = json.dumps({"x": float("nan"), "big": 2 ** 70, "f": 0.1 + 0.2})
    store.upsert_features([FeatureRow("u1", 1, 1, feats, "[]")])
    got = store.get_user_states(["u1"])["u1"]["features"]
    assert got["big"] == 2 ** 70 and got["f"] == 0.1 + 0.2 and got["x"] != got["x"]


def test_batch_read_can_leave_features_and_sequence_as_stored_json(store):
    _fill(store)
    raw = store.get_user_states(["u1", "u2"], raw_json=True)
    decoded = store.get_user_states(["u1", "u2"])
    for uid in ("u1", "u2"):
        assert isinstance(raw[uid]["features"], str) and isinstance(raw[uid]["sequence"], str)
        assert json.loads(raw[uid]["features"]) == decoded[uid]["features"]
        assert json.loads(raw[uid]["sequence"]) == decoded[uid]["sequence"]
        assert {k: v for k, v in raw[uid].items() if k not in ("features", "sequence")} == \
            {k: v for k, v in decoded[uid].items() if k not in ("features", "sequence")}


def test_sqlite_batch_read_is_one_query(tmp_path):
    from recstream.store.sqlite import SqliteStore

    with SqliteStore(tmp_path / "s.sqlite") as st:
        st.upsert_users([(FeatureRow(f"u{i}", i, 1, "{}", "[]"), ScoreRow(f"u{i}", i, 1, "v", False, [], [], [], None))
                         for i in range(300)])
        statements = []
        st.conn.set_trace_callback(statements.append)
        got = st.get_user_states([f"u{i}" for i in range(0, 600, 3)])
        st.conn.set_trace_callback(None)
    assert len(got) == 100 and all("scores" in s for s in got.values())
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")
