"""End to end on a real standalone cluster: `recstream submit` (CLI, detached) → REST until
FINISHED → the job's custom metrics from REST → stored results against the batch reference."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from recstream.cluster.rest import FlinkRest
from recstream.sources.synthetic import SyntheticSpec
from tests.e2e.conftest import job_config
from tests.e2e.helpers import assert_store_matches_reference, write_events

pytestmark = [pytest.mark.flink, pytest.mark.cluster]

SPEC = SyntheticSpec(seed=5, n_users=150, n_items=500, n_events=5000, bot_users=2,
                     late_fraction=0.03, malformed_fraction=0.02)


@pytest.fixture(scope="module")
def finished_job(flink_cluster, cluster_overrides, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    lines = write_events(tmp / "events.jsonl", SPEC)
    cli = [sys.executable, "-m", "recstream"]
    sets = [a for o in [*cluster_overrides, f"store.sqlite.path={tmp / 'store.sqlite'}", f"job.work_dir={tmp}",
                        "model.provider=cpu", "restart.attempts=0", "job.parallelism=2"]
            for a in ("--set", o)]
    out = subprocess.run([*cli, "submit", "--input", str(tmp / "events.jsonl"), "--json", *sets],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    sub = json.loads(out.stdout.strip().splitlines()[-1])
    rest = FlinkRest(flink_cluster.url)
    state = rest.wait_for_state(sub["job_id"], {"FINISHED"}, timeout_s=300)
    cfg = job_config(tmp, cluster_overrides, "job.parallelism=2")
    status = subprocess.run([*cli, "cluster", "status", "--json", *sets], capture_output=True, text=True, timeout=60)
    return cfg, lines, sub, state, rest, status


def test_submit_prints_job_id_and_web_ui_link(finished_job, flink_cluster):
    _, _, sub, state, _, _ = finished_job
    assert len(sub["job_id"]) == 32 and state == "FINISHED"
    assert sub["web_url"] == f"{flink_cluster.url}/#/job/running/{sub['job_id']}/overview"


def test_python_operators_run_at_job_parallelism_per_rest(finished_job):
    # one replay file means one reader; the fold, with the model inside it, must still use both
    # TaskManagers (SQLite keeps a single writer)
    _, _, sub, _, rest, _ = finished_job
    vertices = {v["name"]: v["parallelism"] for v in rest.job(sub["job_id"])["vertices"]}

    def parallelism(part: str) -> int:
        [p] = [p for name, p in vertices.items() if part in name]
        return p

    assert parallelism("validate-fold-user-state") == 2
    assert not [name for name in vertices if "PythonCalc" in name]  # model.runner=fold: no scoring UDF
    assert parallelism("store-features") == 1
    assert parallelism("store-scores") == 1


def test_job_runs_with_cluster_checkpointing(finished_job):
    _, _, sub, _, rest, _ = finished_job
    ck = rest.checkpoint_config(sub["job_id"])
    assert ck["interval"] == 10_000 and ck["mode"] == "exactly_once"
    assert ck["state_backend"] == "HashMapStateBackend"
    assert ck["externalization"] == {"enabled": True, "delete_on_cancellation": False}


def test_custom_metrics_from_rest_match_the_input(finished_job):
    cfg, lines, sub, _, rest, _ = finished_job
    from udfs.features.batch import fold_raw

    states, late, dead = fold_raw(lines, cfg.features.params())
    # REST serves what the JobManager last fetched from the TaskManagers (every 500 ms here); a
    # finished task's metrics stay at their last fetched values, so each operator of a bounded run
    # waits twice that interval once its input ends (job.final_metrics_wait_ms)
    deadline = time.monotonic() + 10
    while True:
        m = rest.custom_metrics(sub["job_id"])
        if m.get("events_in") == len(lines) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert m["events_in"] == len(lines)
    assert m["events_applied"] == sum(s.seq - s.late for s in states.values())
    assert m["events_late"] == len(late) > 0
    assert m["events_invalid"] == len(dead) > 0
    assert m["dead_letters_written"] == len(late) + len(dead)
    # one stored row per user per bucket batch, each scored once; a bucket batch holds one or more users
    assert 0 < m["store_rows_written"] == m["inference_rows"] == m["user_batches"] >= m["micro_batches"] > 0
    # pushed gauges of a scalar UDF reach Java only once non-zero: "not on GPU" may show as absent
    assert m["inference_batches"] > 0 and m.get("inference_on_gpu", 0) == 0
    # gauges (summed over subtasks by custom_metrics)
    assert m["users_updated"] == len(states)
    assert m["state_bytes_per_user_avg"] > 100 and m["event_time_lag_ms"] > 0
    assert m["store_write_us_avg"] > 0 and m["batch_to_store_ms_avg"] > 0


def test_stored_results_match_reference(finished_job):
    cfg, lines, sub, _, _, _ = finished_job
    counts = assert_store_matches_reference(cfg.store.sqlite.path, lines, cfg.features.params(), [sub["run_id"]])
    assert counts["dead_duplicates"] == 0


def test_cluster_status_shows_overview_and_job(finished_job, flink_cluster):
    *_, sub, _, _, status = finished_job
    assert status.returncode == 0, status.stderr
    st = json.loads(status.stdout)
    assert st["overview"]["taskmanagers"] >= 1 and st["overview"]["flink-version"] == "2.3.0"
    assert {p["kind"] for p in st["processes"] if p["alive"]} >= {"standalonesession", "taskexecutor"}
    assert any(j["jid"] == sub["job_id"] and j["state"] == "FINISHED" for j in st["jobs"])
