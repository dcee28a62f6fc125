"""``kill -9`` of a running ``recstream run``: its run record stays without an end, the store calls
it interrupted, and the next ``recstream run`` on the same store says so (once). The next run's
summary also marks the counts that depend on micro-batch timing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from recstream.cluster.local import pid_alive
from recstream.runner import report_interrupted_runs, run_status
from recstream.store.sqlite import SqliteStore

pytestmark = pytest.mark.flink


def cli(tmp_path, *args: str) -> list[str]:
    return [sys.executable, "-m", "recstream", "run", "--store", str(tmp_path / "store.sqlite"),
            "--set", f"job.work_dir={tmp_path}", "--set", "model.provider=cpu", *args]


def wait_mid_run(store_path, proc, timeout_s: float = 300.0) -> tuple[str, dict]:
    """The run id and counters once the writers have flushed applied events (the job is mid-stream)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        if store_path.exists():
            try:
                with SqliteStore(store_path, read_only=True) as st:
                    for rid in st.run_ids():
                        stats = st.run_stats(rid)
                        if sum(v for k, v in stats.items() if k.startswith("events_applied")) > 0:
                            return rid, stats
            except Exception:  # schema not created yet
                pass
        time.sleep(0.2)
    raise TimeoutError("no events applied")


def test_kill_9_of_a_run_is_reported_as_interrupted(tmp_path):
    store_path = tmp_path / "store.sqlite"
    proc = subprocess.Popen(cli(tmp_path, "--events", "200000", "--json"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        rid, mid = wait_mid_run(store_path, proc)
        assert run_status(mid) == "running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        # the gateway JVM exits when its parent's pipe closes; make sure before the next run
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not pid_alive(proc.pid)
    with SqliteStore(store_path, read_only=True) as st:
        stats = st.run_stats(rid)
    assert "run_ended_ms" not in stats and run_status(stats) == "interrupted"

    env = {**os.environ, "COLUMNS": "240"}
    out = subprocess.run(cli(tmp_path, "--events", "400"), capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"earlier run {rid} on this store was interrupted" in out.stderr
    for k in ("feature_rows*", "scored_rows*", "cold_start_rows*"):
        assert k in out.stdout
    assert "varies with arrival timing" in out.stdout and "events_applied*" not in out.stdout
    with SqliteStore(store_path) as st:
        assert run_status(st.run_stats(rid)) == "interrupted"
        assert report_interrupted_runs(st) == [], "reported once, by the run after it"
        assert [run_status(st.run_stats(r)) for r in st.run_ids() if r != rid] == ["finished"]

    listed = subprocess.run([sys.executable, "-m", "recstream", "inspect", "runs", "--json", "--store", str(store_path)],
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr[-3000:]

    runs = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["status"] for r in runs if r["run_id"] == rid] == ["interrupted"]
    assert [r["status"] for r in runs if r["run_id"] != rid] == ["finished"]
    assert all(r["started_ms"] for r in runs)
