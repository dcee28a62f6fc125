import json
import pickle

from udfs.features.batch import fold_events, fold_raw
from udfs.features.params import FeatureParams
from udfs.features.user_state import UserState

P = FeatureParams(allowed_lateness_ms=60_000)
M = 60_000


def ev(t, etype="view", item="i1", **kw):
    return {"event_id": f"e{t}", "user_id": "u", "item_id": item, "event_type": etype, "event_time": t, **kw}


def test_counts_windows_and_recency():
    s = UserState(P)
    base = 1_000 * 86_400_000
    for i, t in enumerate([0, 1 * M, 2 * M, 90 * M, 91 * M]):
        s.apply(ev(base + t, "click" if i % 2 else "view", dwell_ms=100), P)
    f = s.features(P)
    assert f["event_count"] == 5 and f["counts"] == {"view": 3, "click": 2}
    assert f["window_counts"]["5m"] == {"view": 1, "click": 1}  # the events at 90 and 91 min
    assert f["window_counts"]["1h"] == {"view": 1, "click": 1}
    assert f["window_counts"]["24h"] == {"view": 3, "click": 2}
    assert f["last_gap_ms"] == M and f["dwell_ms_total"] == 500
    assert f["session"]["count"] == 2
    json.dumps(f)  # serialisable


def test_late_events_are_rejected_per_user():
    s = UserState(P)
    assert s.apply(ev(10 * M), P)
    assert s.apply(ev(9 * M + 1), P)  # within allowed lateness
    assert not s.apply(ev(8 * M), P)  # more than 1 min behind the newest
    assert s.seq == 3 and s.late == 1 and s.features(P)["late_events"] == 1


def test_rating_weight_can_express_dislike():
    s = UserState(P)
    s.apply(ev(0, "rating", rating=5.0, category="good"), P)
    s.apply(ev(1, "rating", rating=1.0, category="bad"), P)
    f = s.features(P)
    assert f["avg_rating"] == 3.0
    assert f["interest"]["long"]["good"] > 0 > f["interest"]["long"]["bad"]


def test_state_pickles_round_trip():
    s = UserState(P)
    for t in range(100):
        s.apply(ev(t * 1000, item=f"i{t}", category="c", tags=["x", "y"]), P)
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.features(P) == s.features(P) and s2.sequence_snapshot() == s.sequence_snapshot()
    assert len(s2.sequence_snapshot()) == P.sequence_length


def test_batch_fold_splits_valid_late_and_dead():
    lines = [json.dumps(ev(10 * M)), json.dumps(ev(1 * M)), "{oops", json.dumps({**ev(11 * M), "user_id": "v"})]
    states, late, dead = fold_raw(lines, P)
    assert set(states) == {"u", "v"} and len(late) == 1 and len(dead) == 1 and "malformed" in dead[0][1]
    states2, late2 = fold_events([ev(1), ev(2)], P)
    assert states2["u"].seq == 2 and not late2


def test_last_n_compact_pickle_round_trips_and_reads_the_old_form():
    import pickle

    from udfs.features.sequence import LastN

    seq = LastN(5)
    for ts, item, t in [(1_700_000_000_000, "a", 0), (1_700_000_000_500, "b\u00e9", 2), (1_700_000_000_500, "a", 1),
                        (1_700_000_000_000 + 90 * 86_400_000, "c", 3)]:  # a gap over 2**32 ms
        seq.add(ts, item, t)
    back = pickle.loads(pickle.dumps(seq, protocol=pickle.HIGHEST_PROTOCOL))
    assert (back.n, back.times, back.items) == (seq.n, seq.times, seq.items)
    nul = LastN(3)
    nul.add(5, "x\x00y", 1)
    nul.add(7, "z", 0)
    back = pickle.loads(pickle.dumps(nul))
    assert back.items == [("x\x00y", 1), ("z", 0)] and back.times == [5, 7]
    empty = pickle.loads(pickle.dumps(LastN(4)))
    assert (empty.n, empty.times, empty.items) == (4, [], [])
    old = LastN.__new__(LastN)
    old.__setstate__((None, {"n": 2, "times": [1, 2], "items": [("p", 0), ("q", 1)]}))
    assert old.times == [1, 2] and old.items == [("p", 0), ("q", 1)] and old.item_ids() == ["p", "q"]


def test_last_n_pickles_smaller_than_plain_lists():
    import pickle

    from udfs.features.sequence import LastN

    seq = LastN(50)
    for k in range(60):
        seq.add(1_700_000_000_000 + k * 37_000, str(100 + k), k % 4)
    plain = pickle.dumps((seq.n, seq.times, seq.items), protocol=pickle.HIGHEST_PROTOCOL)
    compact = pickle.dumps(seq, protocol=pickle.HIGHEST_PROTOCOL)
    assert len(compact) < 0.7 * len(plain)


def test_state_seq_counts_late_events_so_the_store_keeps_the_late_count(tmp_path):
    # the store applies a row only when (event_time, state_seq) is newer: a late event leaves
    # event_time as it is but changes late_events, so state_seq must count it
    from recstream.store.base import FeatureRow
    from recstream.store.sqlite import SqliteStore

    s = UserState(P)
    store = SqliteStore(tmp_path / "store.sqlite")

    def write():
        f = s.features(P)
        store.upsert_features([FeatureRow("u", s.last_ts, s.seq, json.dumps(f), "[]")])
        assert s.seq == f["event_count"] + f["late_events"]

    s.apply(ev(10 * M), P)
    write()
    assert not s.apply(ev(1 * M), P)
    write()
    assert store.get_user_state("u")["features"]["late_events"] == 1
    store.close()
