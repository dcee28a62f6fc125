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

