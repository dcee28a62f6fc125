"""Online/offline consistency: the real PyFlink job (mini-cluster) and `recstream backfill` over
the same events write the same store rows (users, items, popular lists, dead letters)."""
import json
import re
import sqlite3

import pytest

from tests.conftest import assert_close
from tests.stream_helpers import KEY, store_rows, stream_and_backfill
from udfs.events import try_parse_event
from udfs.privacy import Pseudonymizer

pytestmark = pytest.mark.flink


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return stream_and_backfill(tmp_path_factory)


def test_both_runs_account_for_every_event(run):
    s, b = run["summary"], run["backfill"]
    assert s.job_status == "FINISHED" and s.accounted == s.events_in == len(run["lines"])
    assert b.events_in == s.events_in
    assert (b.events_applied, b.dead_parse, b.dead_late) == (s.events_applied, s.dead_parse, s.dead_late)
    assert b.dead_parse > 0 and b.dead_late > 0 and b.excluded_from_items > 0


def test_user_rows_are_identical(run):
    q = "SELECT user_id, event_time, state_seq, features, sequence FROM user_features ORDER BY user_id"
    stream, batch = store_rows(run["stream_cfg"], q), store_rows(run["batch_cfg"], q)
    assert [r[:3] for r in stream] == [r[:3] for r in batch] and len(stream) == run["backfill"].users
    for a, b in zip(stream, batch):
        assert a[4] == b[4], a[0]  # sequence JSON byte-identical
        assert_close(json.loads(a[3]), json.loads(b[3]), path=a[0])
    # every new part is present and non-trivial somewhere
    feats = [json.loads(r[3]) for r in stream]
    assert all({"user_items", "user_categories", "funnel", "anomaly", "content_interest"} <= set(f) for f in feats)
    assert any(f["anomaly"]["block_events"] > 0 for f in feats)
    assert sum(f["anomaly"]["rate_max_z"] > 0 for f in feats) >= 2  # the two bots
    assert any(f["content_missing"] > 0 for f in feats) and all(f["content_interest"] for f in feats)


def test_item_rows_and_popular_lists_are_identical(run):
    q = "SELECT item_id, event_time, state_seq, features, popularity FROM item_features ORDER BY item_id"
    stream, batch = store_rows(run["stream_cfg"], q), store_rows(run["batch_cfg"], q)
    assert [r[:3] for r in stream] == [r[:3] for r in batch] and len(stream) == run["backfill"].items > 0
    for a, b in zip(stream, batch):
        assert_close(json.loads(a[3]), json.loads(b[3]), path=a[0])
        assert a[4] == pytest.approx(b[4], rel=1e-9)
    q = "SELECT scope, event_time, items, scores FROM popular_items ORDER BY scope"
    sp, bp = store_rows(run["stream_cfg"], q), store_rows(run["batch_cfg"], q)
    assert [r[:3] for r in sp] == [r[:3] for r in bp] and len(sp) == run["backfill"].popular_lists > 1
    for a, b in zip(sp, bp):
        assert json.loads(a[3]) == pytest.approx(json.loads(b[3]), rel=1e-9)


def test_dead_letters_are_identical(run):
    q = "SELECT stage, reason, raw FROM dead_letters WHERE run_id = ?"
    con_s = sqlite3.connect(run["stream_cfg"].store.sqlite.path)
    con_b = sqlite3.connect(run["batch_cfg"].store.sqlite.path)
    stream = sorted(con_s.execute(q, (run["summary"].run_id,)).fetchall())
    batch = sorted(con_b.execute(q, (run["backfill"].run_id,)).fetchall())
    assert stream == batch and {r[0] for r in stream} == {"parse", "late"}


def test_no_raw_user_id_is_stored(run):
    ps = Pseudonymizer(KEY)
    events = [try_parse_event(line)[0] for line in run["lines"]]
    raw_ids = {e["user_id"] for e in events if e is not None}
    for cfg in (run["stream_cfg"], run["batch_cfg"]):
        keys = {r[0] for r in store_rows(cfg, "SELECT user_id FROM user_features")}
        assert keys == {ps(u) for u in raw_ids}
        assert all(re.fullmatch(r"[0-9a-f]{32}", k) for k in keys)
        text = "\n".join(r[0] for r in store_rows(cfg, "SELECT raw FROM dead_letters"))
        text += "\n".join(r[0] + r[1] for r in store_rows(cfg, "SELECT features, sequence FROM user_features"))
        assert not any(f'"{u}"' in text for u in raw_ids)
