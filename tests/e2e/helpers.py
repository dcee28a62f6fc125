"""Shared checks of the end-to-end cluster tests: inputs, the batch reference, stored state."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from recstream.sources.synthetic import SyntheticSpec, replay_lines
from recstream.store.sqlite import SqliteStore
from tests.conftest import assert_close
from udfs.features.batch import fold_raw


def write_events(path: Path, spec: SyntheticSpec) -> list[str]:
    lines = [line.replace("\n", "\\n") for line in replay_lines(spec)]
    path.write_text("\n".join(lines) + "\n")
    return lines


def assert_store_matches_reference(store: Path, lines: list[str], params, run_ids: list[str]) -> dict:
    """Stored per-user state equals the batch reference (= an uninterrupted run): no event lost
    (state_seq counts every event folded into a user) and none counted twice. Every user's
    latest state was scored. Dead letters: every expected one is stored. Returns counts."""
    states, late, dead = fold_raw(lines, params)
    with SqliteStore(store, read_only=True) as st:
        stored = {s["user_id"]: s for s in st.iter_user_states()}
        scores = {uid: st.get_top_k(uid) for uid in stored}
        letters = [d for rid in run_ids for d in st.dead_letters(rid, limit=1_000_000)]
    assert set(stored) == set(states), "users differ from the reference"
    assert sum(r["state_seq"] for r in stored.values()) == sum(s.seq for s in states.values())
    for uid, state in states.items():
        row = stored[uid]
        assert (row["event_time"], row["state_seq"]) == (state.last_ts, state.seq), uid
        assert row["sequence"] == state.sequence_snapshot(), uid
        assert_close(row["features"], state.features(params), path=uid)
        assert scores[uid] is not None and (scores[uid]["event_time"], scores[uid]["state_seq"]) == \
            (state.last_ts, state.seq), uid
    expected = Counter([("parse", raw) for raw, _ in dead] + [("late", e["event_id"]) for e in late])
    got = Counter((d["stage"], d["raw"] if d["stage"] == "parse" else json.loads(d["raw"])["event_id"])
                  for d in letters)
    missing = expected - got
    assert not missing, f"{sum(missing.values())} dead letters lost, e.g. {next(iter(missing))}"
    return {"users": len(states), "events_folded": sum(s.seq for s in states.values()), "dead_expected":
            sum(expected.values()), "dead_stored": sum(got.values()), "dead_duplicates": sum((got - expected).values()),
            "scores": scores}



def assert_items_and_scores_match_reference(cfg, store: Path, input_path: Path, lines: list[str],
                                            reference_store: Path) -> dict:
    """Item features and the cold-start popular lists equal what the backfill writes for the same
    input (the same feature code in batch; ``tests/flink_jobs/test_backfill.py`` shows an
    uninterrupted stream writes exactly these rows), and every warm user's stored embedding and
    top-K equal the model's on the reference state. Not compared, because they depend on when
    micro-batches closed rather than on the events: a cold-start user's top-K (the popular list
    as the scorer last read it) and ``drift`` (distance to the previously scored batch's embedding).
    Returns counts."""
    import numpy as np

    from model_export.runtime import InterestModel, dedupe_consecutive
    from recstream.backfill import backfill

    with SqliteStore(reference_store) as ref:
        backfill(cfg, input_path, store=ref)
    items_q = "SELECT item_id, event_time, state_seq, features, popularity FROM item_features ORDER BY item_id"
    lists_q = "SELECT scope, event_time, items, scores FROM popular_items ORDER BY scope"
    with SqliteStore(store, read_only=True) as st, SqliteStore(reference_store, read_only=True) as ref:
        got_items, want_items = st.conn.execute(items_q).fetchall(), ref.conn.execute(items_q).fetchall()
        got_lists, want_lists = st.conn.execute(lists_q).fetchall(), ref.conn.execute(lists_q).fetchall()
        states, _, _ = fold_raw(lines, cfg.features.params())
        tops = {uid: st.get_top_k(uid) for uid in states}
    assert [tuple(r)[:3] for r in got_items] == [tuple(r)[:3] for r in want_items] and want_items, \
        "item ids / (event_time, state_seq) differ from the reference"
    for a, b in zip(got_items, want_items):
        assert_close(json.loads(a["features"]), json.loads(b["features"]), path=a["item_id"])
        assert_close(a["popularity"], b["popularity"], path=a["item_id"], rel=1e-9)
    assert [tuple(r)[:3] for r in got_lists] == [tuple(r)[:3] for r in want_lists] and len(want_lists) > 1, \
        "popular lists (scope, event time, items) differ from the reference"
    for a, b in zip(got_lists, want_lists):
        assert_close(json.loads(a["scores"]), json.loads(b["scores"]), path=a["scope"], rel=1e-9)

    model = InterestModel.load(cfg.model.path, providers=["CPUExecutionProvider"])
    warm = [uid for uid, s in states.items() if s.seq - s.late >= cfg.model.cold_start_min_events]
    for uid, s in states.items():
        assert (tops[uid]["event_time"], tops[uid]["state_seq"]) == (s.last_ts, s.seq), uid
        if uid not in warm:
            assert tops[uid]["cold_start"] and len(tops[uid]["items"]) == model.top_k, uid
    emb, scores, items = model.recommend([dedupe_consecutive(states[uid].sequence.item_ids()) for uid in warm])
    for i, uid in enumerate(warm):
        top = tops[uid]
        assert not top["cold_start"], uid
        np.testing.assert_allclose(top["embedding"], emb[i], atol=1e-5, err_msg=uid)
        assert top["items"] == [str(x) for x in items[i]], uid
        np.testing.assert_allclose(top["scores"], scores[i], atol=1e-4, err_msg=uid)
    return {"items": len(want_items), "popular_lists": len(want_lists), "warm_users_scored": len(warm),
            "cold_users": len(states) - len(warm)}
