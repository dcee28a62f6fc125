import pytest

from recstream.store.base import DeadLetter, FeatureRow
from recstream.store.sqlite import SqliteStore


def row(t, seq, tag="x"):
    return FeatureRow("u1", t, seq, f'{{"tag": "{tag}"}}', "[]")


def test_upsert_never_lets_older_state_win(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as st:
        assert st.upsert_features([row(100, 5, "new")]) == 1
        assert st.upsert_features([row(90, 9, "older-time")]) == 0
        assert st.upsert_features([row(100, 4, "older-seq")]) == 0
        assert st.get_user_state("u1")["features"] == {"tag": "new"}
        assert st.upsert_features([row(100, 6, "same-time-newer-seq")]) == 1
        assert st.upsert_features([row(101, 1, "newer-time")]) == 1
        got = st.get_user_state("u1")
        assert got["features"] == {"tag": "newer-time"} and got["event_time"] == 101
        assert st.get_user_state("nobody") is None
        assert [s["user_id"] for s in st.iter_user_states()] == ["u1"]


def test_dead_letters_and_run_stats(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as st:
        st.add_dead_letters([DeadLetter("r1", "parse", "malformed JSON", "{x"), DeadLetter("r2", "late", "late", "{}")])
        assert [d["raw"] for d in st.dead_letters("r1")] == ["{x"]
        assert len(st.dead_letters()) == 2
        st.set_run_stats("r1", {"a.0": 1})
        st.set_run_stats("r1", {"a.0": 5, "b.0": 2})
        assert st.run_stats("r1") == {"a.0": 5, "b.0": 2}


def test_read_only_store_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="recstream run"):
        SqliteStore(tmp_path / "missing.sqlite", read_only=True)


def test_scores_upsert_and_top_k(tmp_path):
    from recstream.store.base import ScoreRow

    def srow(t, seq, items, drift=None):
        return ScoreRow("u1", t, seq, "v1", False, [0.1, 0.2], items, [2.0, 1.0], drift)

    with SqliteStore(tmp_path / "s.sqlite") as st:
        assert st.get_top_k("u1") is None
        assert st.upsert_scores([srow(10, 2, ["a", "b"])]) == 1
        assert st.upsert_scores([srow(9, 9, ["old", "x"])]) == 0
        assert st.upsert_scores([srow(10, 3, ["c", "d"], 0.25)]) == 1
        top = st.get_top_k("u1")
        assert top["items"] == ["c", "d"] and top["scores"] == [2.0, 1.0] and top["drift"] == 0.25
        assert top["model_version"] == "v1" and top["cold_start"] is False
        st.upsert_features([row(10, 3)])
        assert st.get_user_state("u1")["scores"]["items"] == ["c", "d"]
