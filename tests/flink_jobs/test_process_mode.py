"""The whole job in PyFlink's process mode (`job.execution_mode=process`: every Python operator in
a Beam worker process instead of the TaskManager's embedded interpreter) writes what thread mode
writes. Process mode runs Python state through Beam's state API, whose TTL'd ValueStates Flink
2.3 refuses ("A serializer has already been registered for the state"), and calls a function's
open() and map() on different threads (SQLite's same-thread check): both once broke it."""
import json

import pytest

from recstream.config import load_config
from tests.conftest import assert_close
from tests.stream_helpers import store_rows, stream_and_backfill

pytestmark = pytest.mark.flink


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from recstream.runner import run_local

    thread = stream_and_backfill(tmp_path_factory)
    tmp = tmp_path_factory.mktemp("process_mode")
    overrides = [o for o in _overrides(thread["stream_cfg"]) if not o.startswith(("store.", "job.work_dir"))]
    # scoring on as well: the pandas UDF and the keyed drift step in the same Beam workers
    cfg = load_config(overrides=overrides + [f"store.sqlite.path={tmp / 'process.sqlite'}", f"job.work_dir={tmp}",
                                             "job.execution_mode=process", "model.enabled=true"])
    return thread, cfg, run_local(cfg, thread["events"])


def _overrides(cfg) -> list[str]:
    """The stream run's settings that differ from the defaults, as overrides."""
    base = load_config().model_dump(mode="json")
    out = []

    def walk(a, b, path):
        for k, v in a.items():
            if isinstance(v, dict) and isinstance(b.get(k), dict):
                walk(v, b[k], f"{path}{k}.")
            elif v != b.get(k):
                out.append(f"{path}{k}={v}")

    walk(cfg.model_dump(mode="json"), base, "")
    return out


def test_process_mode_accounts_for_every_event_and_scores_every_row(runs):
    thread, cfg, summary = runs
    t = thread["summary"]
    assert summary.job_status == "FINISHED" and summary.accounted == summary.events_in == t.events_in
    assert (summary.events_applied, summary.dead_parse, summary.dead_late) == (t.events_applied, t.dead_parse,
                                                                               t.dead_late)
    users = store_rows(cfg, "SELECT user_id FROM user_features")
    scored = store_rows(cfg, "SELECT user_id, topk_items FROM user_scores")
    assert len(scored) == len(users) > 0 and all(json.loads(r[1]) for r in scored)


def test_process_mode_writes_the_rows_thread_mode_writes(runs):
    thread, cfg, _ = runs
    q = "SELECT user_id, event_time, state_seq, features, sequence FROM user_features ORDER BY user_id"
    a, b = store_rows(cfg, q), store_rows(thread["stream_cfg"], q)
    assert [r[:3] for r in a] == [r[:3] for r in b] and len(a) > 0
    for x, y in zip(a, b):
        assert x[4] == y[4], x[0]
        assert_close(json.loads(x[3]), json.loads(y[3]), path=x[0])
    q = "SELECT item_id, event_time, state_seq, features FROM item_features ORDER BY item_id"
    a, b = store_rows(cfg, q), store_rows(thread["stream_cfg"], q)
    assert [r[:3] for r in a] == [r[:3] for r in b] and len(a) > 0
    for x, y in zip(a, b):
        assert_close(json.loads(x[3]), json.loads(y[3]), path=x[0])
