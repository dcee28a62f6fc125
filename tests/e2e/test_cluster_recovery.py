"""Failure and upgrade on a real standalone cluster, with checkpoints.

1. kill -9 of the TaskManager while the job is mid-stream, after at least one completed
   checkpoint: the job restarts from that checkpoint (on a replacement TaskManager, as a
   supervisor would start one) and the final stored state equals the batch reference, which
   equals an uninterrupted run: user features and sequences (no event lost, none counted twice:
   every user's ``state_seq`` counts exactly the events folded into it), item features, the
   cold-start popular lists, and every warm user's embedding and top-K. Cold-start users' top-K
   and ``drift`` depend on when micro-batches closed, in any run, and are not compared.
2. Stop with a savepoint mid-stream, upgrade the job (a new model version, and the RocksDB state
   backend instead of the heap), resume from the savepoint: the same final state (as in 1), and
   the users updated after the upgrade carry the new model version.
3. A savepoint of a job whose graph has an operator the new job lacks (the drift step of
   ``model.runner=udf``, restored into the default ``runner=fold`` job): the submission fails naming
   the operator and the migration step, and the step it names restores it without loss.
"""
from __future__ import annotations

from pathlib import Path

import json
import os
import shutil
import signal
import time

import pytest

from recstream.cluster.local import children_of, pid_alive
from recstream.cluster.rest import FlinkRest
from recstream.cluster.submit import SubmitError, cancel, submit
from recstream.sources.synthetic import SyntheticSpec
from tests.e2e.conftest import job_config, stored_progress
from tests.e2e.helpers import assert_items_and_scores_match_reference, assert_store_matches_reference, write_events
from udfs.features.batch import fold_raw

pytestmark = [pytest.mark.flink, pytest.mark.cluster]

# big enough that the job runs well past its first checkpoints (~10-20 s of processing here)
SPEC = SyntheticSpec(seed=9, n_users=2000, n_items=2000, n_events=50_000, bot_users=3,
                     late_fraction=0.01, malformed_fraction=0.005)
RATE = 2500  # events/s: the source takes ~20 s for the file (flink_jobs/cluster_entry.py)
CHECKPOINTS = ["checkpoint.interval_ms=1000", "checkpoint.min_pause_ms=500"]


def source_read(rest: FlinkRest, job_id: str) -> int:
    """Lines the replay source has read so far (the source vertex's records in)."""
    [v] = [v for v in rest.job(job_id)["vertices"] if v["name"].startswith("Source: replay-file")]
    return v["metrics"]["read-records"]


def wait_mid_stream(rest: FlinkRest, job_id: str, store, lines: int, timeout_s: float = 240.0) -> dict:
    """Wait until the job has a completed checkpoint, the store shows events folded, and the source
    has read 10-75 % of the file; returns what it saw. Fails if the source got past 75 % first (on a
    loaded machine the first checkpoint can take a while: at least a quarter of the file is then
    still left to read after the restore)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = rest.state(job_id)
        assert state in ("CREATED", "INITIALIZING", "RUNNING"), f"job {state}: {rest.root_exception(job_id)}"
        read = source_read(rest, job_id)
        assert read <= 0.75 * lines, f"source read {read}/{lines} lines before a checkpoint: too fast to interrupt"
        completed = rest.checkpoints(job_id)["counts"]["completed"] if state == "RUNNING" else 0
        folded = stored_progress(store)
        if completed >= 1 and folded > 0 and read >= 0.1 * lines:
            return {"completed_checkpoints": completed, "events_folded": folded, "lines_read": read}
        time.sleep(0.2)
    raise TimeoutError("no completed checkpoint mid-stream")


def submit_paced(cfg, path: Path, **kw):
    return submit(cfg, entry="flink_jobs.cluster_entry", entry_args=["--input", str(path), "--rate", str(RATE)], **kw)


@pytest.fixture
def events(tmp_path):
    lines = write_events(tmp_path / "events.jsonl", SPEC)
    return tmp_path / "events.jsonl", lines


def test_kill_taskmanager_restores_from_checkpoint_without_loss(flink_cluster, cluster_overrides, tmp_path, events):
    path, lines = events
    cfg = job_config(tmp_path, cluster_overrides, *CHECKPOINTS, "restart.attempts=3",
                     "restart.delay_s=1")
    params = cfg.features.params()
    total = sum(s.seq for s in fold_raw(lines, params)[0].values())
    rest = FlinkRest(flink_cluster.url)
    sub = submit_paced(cfg, path)
    seen = wait_mid_stream(rest, sub.job_id, cfg.store.sqlite.path, len(lines))

    # every TaskManager (the default layout has one per core; which of them runs the job's tasks is
    # the scheduler's choice), then as many replacements, as a supervisor would start
    tms = flink_cluster.taskmanagers()
    workers = [w for tm in tms for w in children_of(tm.pid)]
    for tm in tms:
        os.kill(tm.pid, signal.SIGKILL)
    killed_at = time.time()
    try:
        replacements = [flink_cluster.add_taskmanager(wait=True) for _ in tms]
        assert not {r.pid for r in replacements} & {tm.pid for tm in tms}
        assert rest.wait_for_state(sub.job_id, {"FINISHED"}, timeout_s=300) == "FINISHED"
    finally:
        # the killed TaskManager's Python workers lose their control channel and exit; make sure
        left = [p for p in workers if pid_alive(p)]
        for p in left:
            os.kill(p, signal.SIGKILL)
    ck = rest.checkpoints(sub.job_id)
    restored = ck["latest"]["restored"]
    assert ck["counts"]["restored"] >= 1 and restored is not None and not restored["is_savepoint"]
    assert restored["restore_timestamp"] >= killed_at * 1000 - 1000
    assert float(rest.job_metrics(sub.job_id, ["numRestarts"])["numRestarts"]) >= 1
    counts = assert_store_matches_reference(cfg.store.sqlite.path, lines, params, [sub.run_id])
    compared = assert_items_and_scores_match_reference(cfg, cfg.store.sqlite.path, path, lines,
                                                       tmp_path / "reference.sqlite")
    print(json.dumps({"at_kill": seen, "lines": len(lines), "events_to_fold": total,
                      "restored_checkpoint": restored["id"], "python_workers_left_after_kill": len(left),
                      "dead_letters_duplicated": counts["dead_duplicates"], **compared}))


def test_savepoint_upgrade_keeps_state(flink_cluster, cluster_overrides, tmp_path, events):
    path, lines = events
    from recstream.config.models import packaged_demo_model

    v2 = tmp_path / "model-v2"
    shutil.copytree(packaged_demo_model(), v2)
    card = json.loads((v2 / "model.json").read_text())
    card["version"] = card["version"] + "-upgrade"
    (v2 / "model.json").write_text(json.dumps(card))

    cfg1 = job_config(tmp_path, cluster_overrides, *CHECKPOINTS)
    params = cfg1.features.params()
    total = sum(s.seq for s in fold_raw(lines, params)[0].values())
    rest = FlinkRest(flink_cluster.url)
    sub1 = submit_paced(cfg1, path)
    wait_mid_stream(rest, sub1.job_id, cfg1.store.sqlite.path, len(lines))
    savepoint = cancel(cfg1, sub1.job_id, savepoint_dir=tmp_path / "savepoints")
    assert rest.wait_for_state(sub1.job_id, {"FINISHED"}, timeout_s=60) == "FINISHED"
    at_stop = stored_progress(cfg1.store.sqlite.path)
    read1 = source_read(rest, sub1.job_id)
    assert 0 < at_stop < total and read1 < len(lines), "the savepoint must be taken mid-stream"
    assert Path(savepoint).is_relative_to(tmp_path / "savepoints") and (Path(savepoint) / "_metadata").exists()

    # users' states live in their bucket: a restore with another bucket count must fail and say why
    # instead of starting every user afresh
    bad = job_config(tmp_path, cluster_overrides, *CHECKPOINTS, f"job.user_buckets={cfg1.job.user_buckets + 1}")
    sub_bad = submit_paced(bad, path, from_savepoint=savepoint)
    assert rest.wait_for_state(sub_bad.job_id, {"FAILED"}, timeout_s=120) == "FAILED"
    assert "job.user_buckets" in json.dumps(rest.exceptions(sub_bad.job_id))
    assert stored_progress(cfg1.store.sqlite.path) == at_stop, "the refused restore must not write"

    # the upgrade: a new model version, and state moves from the heap to RocksDB (savepoints are
    # written in the canonical format, which any state backend restores)
    cfg2 = job_config(tmp_path, cluster_overrides, *CHECKPOINTS, f"model.path={v2}",
                      "checkpoint.state_backend=rocksdb")
    sub2 = submit_paced(cfg2, path, from_savepoint=savepoint)
    assert rest.wait_for_state(sub2.job_id, {"FINISHED"}, timeout_s=300) == "FINISHED"
    assert rest.checkpoint_config(sub1.job_id)["state_backend"] == "HashMapStateBackend"
    assert rest.checkpoint_config(sub2.job_id)["state_backend"] == "EmbeddedRocksDBStateBackend"
    assert read1 + source_read(rest, sub2.job_id) == len(lines), "the resumed source must go on where it stopped"
    restored = rest.checkpoints(sub2.job_id)["latest"]["restored"]
    assert restored is not None and restored["is_savepoint"]

    counts = assert_store_matches_reference(cfg2.store.sqlite.path, lines, params, [sub1.run_id, sub2.run_id])
    # dead letters are at-least-once (plain inserts): none may be lost (checked above); duplicates are
    # possible. Most savepoint stops wrote none twice, one CI run at load average > 8 wrote 2 twice.
    assert counts["dead_duplicates"] <= counts["dead_expected"] // 10
    versions = {s["model_version"] for s in counts["scores"].values()}
    assert card["version"] in versions, versions
    # the upgraded model is a copy with a new version: the same embeddings and top-K
    compared = assert_items_and_scores_match_reference(cfg2, cfg2.store.sqlite.path, path, lines,
                                                       tmp_path / "reference.sqlite")
    print(json.dumps({"stopped_at_events_folded": at_stop, "events_to_fold": total, "lines_read_before_stop": read1,
                      "lines": len(lines), "model_versions": sorted(versions), **compared}))


def test_restore_into_a_job_without_an_operator_names_the_migration_step(flink_cluster, cluster_overrides, tmp_path,
                                                                          events):
    path, lines = events
    cfg1 = job_config(tmp_path, cluster_overrides, *CHECKPOINTS, "model.runner=udf")
    rest = FlinkRest(flink_cluster.url)
    sub1 = submit_paced(cfg1, path)
    wait_mid_stream(rest, sub1.job_id, cfg1.store.sqlite.path, len(lines))
    savepoint = cancel(cfg1, sub1.job_id, savepoint_dir=tmp_path / "savepoints")
    assert rest.wait_for_state(sub1.job_id, {"FINISHED"}, timeout_s=60) == "FINISHED"
    read1 = source_read(rest, sub1.job_id)

    default = job_config(tmp_path, cluster_overrides, *CHECKPOINTS)  # model.runner=fold: no drift operator
    with pytest.raises(SubmitError) as refused:
        submit_paced(default, path, from_savepoint=savepoint)
    message = str(refused.value)
    assert message.startswith(f"cannot restore {savepoint}: the savepoint holds state of operator "
                              "'interest-drift-buckets'"), message[:500]
    assert "--set model.runner=udf" in message

    sub2 = submit_paced(cfg1, path, from_savepoint=savepoint)  # the step the message names
    assert rest.wait_for_state(sub2.job_id, {"FINISHED"}, timeout_s=300) == "FINISHED"
    assert read1 + source_read(rest, sub2.job_id) == len(lines)
    assert_store_matches_reference(cfg1.store.sqlite.path, lines, cfg1.features.params(), [sub1.run_id, sub2.run_id])
