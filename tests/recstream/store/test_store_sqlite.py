"""What only the embedded SQLite store does beyond the shared contract (test_store_contract.py)."""
import sqlite3

import pytest

from recstream.store.base import FeatureRow, ScoreRow
from recstream.store.sqlite import SqliteStore


def row(t, seq, tag="x"):
    return FeatureRow("u1", t, seq, f'{{"tag": "{tag}"}}', "[]")


def test_upsert_counts_only_rows_that_changed(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as st:
        assert st.upsert_features([row(100, 5, "new")]) == 1
        assert st.upsert_features([row(90, 9, "older-time")]) == 0
        assert st.upsert_features([row(100, 4, "older-seq")]) == 0
        assert st.upsert_features([row(100, 6), row(100, 5), row(101, 1)]) == 2


def test_upsert_users_is_one_transaction(tmp_path):
    """A failing row rolls back the whole batch (nothing half-written)."""
    with SqliteStore(tmp_path / "s.sqlite") as st:
        bad = ScoreRow("u2", 1, 1, None, False, [], [], [], None)  # model_version NOT NULL
        with pytest.raises(sqlite3.IntegrityError):
            st.upsert_users([(row(1, 1), None), (FeatureRow("u2", 1, 1, "{}", "[]"), bad)])
        assert st.get_user_state("u1") is None and st.get_user_state("u2") is None


def test_read_only_store_must_exist_and_cannot_write(tmp_path):
    with pytest.raises(FileNotFoundError, match="recstream run"):
        SqliteStore(tmp_path / "missing.sqlite", read_only=True)
    SqliteStore(tmp_path / "s.sqlite").close()
    with SqliteStore(tmp_path / "s.sqlite", read_only=True) as ro:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ro.upsert_features([row(1, 1)])


def test_score_lists_read_back_exactly_including_non_finite_values(tmp_path):
    import math

    store = SqliteStore(tmp_path / "s.sqlite")
    emb = [1e-05, 0.1 + 0.2, -3.5e20, 2.0]
    store.upsert_scores([ScoreRow("u1", 10, 1, "v1", False, emb, ["i1", "i2"], [0.75, 1 / 3], None),
                         ScoreRow("u2", 10, 1, "v1", False, [float("nan"), 1.0], ["i1"], [float("inf")], None)])
    u1, u2 = store.get_top_k("u1"), store.get_top_k("u2")
    assert u1["embedding"] == emb and u1["items"] == ["i1", "i2"] and u1["scores"] == [0.75, 1 / 3]
    assert math.isnan(u2["embedding"][0]) and u2["embedding"][1] == 1.0 and u2["scores"] == [float("inf")]
    store.close()
