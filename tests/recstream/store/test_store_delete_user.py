"""OnlineStore.delete_user, on every backend (fixture ``store``: SQLite always, Cassandra only
against a real cluster, otherwise skipped like the rest of the contract suite)."""
from __future__ import annotations

import json
import re

from recstream.store.base import DeadLetter, FeatureRow, ItemRow, ScoreRow
from recstream.store.cassandra.store import USER_TABLES, delete_statements
from recstream.store.cassandra.schema import render_cql
from recstream.store.cassandra.config import CassandraStoreConfig


def seed(store, user):
    store.upsert_users([(FeatureRow(user, 100, 3, json.dumps({"event_count": 3}), "[]"),
                         ScoreRow(user, 100, 3, "v1", False, [0.1], ["i1"], [1.0], None))])


def test_delete_user_removes_only_that_users_rows(store):
    for u in ("u1", "u10", "x-u1"):
        seed(store, u)
    store.upsert_items([ItemRow("i1", 100, 1, "{}", 1.0)])
    store.add_dead_letters([
        DeadLetter("r", "late", "late", json.dumps({"user_id": "u1", "item_id": "i1"})),
        DeadLetter("r", "late", "late", json.dumps({"user_id": "u10", "item_id": "i1"})),
        DeadLetter("r", "parse", "malformed JSON", '{"user_id": "u1", "item_id": '),  # truncated: searched as text
        DeadLetter("r", "parse", "malformed JSON", '{"user_id": "u10", "item'),
    ])
    deleted = store.delete_user("u1")
    assert deleted["user_features"] == 1 and deleted["user_scores"] == 1
    assert store.get_user_state("u1") is None and store.get_top_k("u1") is None
    assert store.get_user_state("u10") is not None and store.get_user_state("x-u1") is not None
    assert store.get_item("i1") is not None  # aggregates carry no user id
    if store.kind == "sqlite":
        assert deleted["dead_letters"] == 2
        left = [d["raw"] for d in store.dead_letters("r")]
        assert len(left) == 2 and all("u10" in raw for raw in left)
    else:  # partitioned by run and hour: not searched, they expire with their TTL
        assert deleted["dead_letters"] is None
    # deleting again finds nothing
    again = store.delete_user("u1")
    assert again["user_features"] == 0 and again["user_scores"] == 0


def test_cassandra_deletes_address_whole_user_partitions():
    ks = "rs_test"
    cql = render_cql(CassandraStoreConfig(keyspace=ks))
    for table, stmt in delete_statements(ks).items():
        assert stmt == f"DELETE FROM {ks}.{table} WHERE user_id = ?" and "TIMESTAMP" not in stmt
        m = re.search(rf"CREATE TABLE IF NOT EXISTS {ks}\.{table} \(\s*user_id\s+text PRIMARY KEY", cql)
        assert m, table
    assert set(USER_TABLES) == {"user_features", "user_sequence", "user_scores"}
