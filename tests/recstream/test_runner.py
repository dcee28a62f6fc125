"""The run record in ``run_stats``: how a run's status is told from its stored counters, and that
an interrupted run is reported once. Real SQLite stores and real (exited / live) processes."""
from __future__ import annotations

import os
import subprocess
import sys

from recstream.runner import STALE_S, host_id, report_interrupted_runs, run_status, runs_overview
from recstream.store.sqlite import SqliteStore

NOW = 1_800_000_000_000


def exited_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def started(pid: int, host: int | None = None, beat_ago_s: float = 1.0) -> dict[str, int]:
    return {"run_started_ms": NOW - 100_000, "run_heartbeat_ms": NOW - int(beat_ago_s * 1000), "run_pid": pid,
            "run_host": host_id() if host is None else host}


def test_ended_runs_are_finished_or_failed():
    assert run_status({**started(os.getpid()), "run_ended_ms": NOW, "run_failed": 0}, NOW) == "finished"
    assert run_status({**started(exited_pid()), "run_ended_ms": NOW, "run_failed": 1}, NOW) == "failed"


def test_a_live_process_with_a_fresh_heartbeat_is_running():
    assert run_status(started(os.getpid()), NOW) == "running"


def test_a_run_whose_process_is_gone_is_interrupted_at_once_on_its_host():
    assert run_status(started(exited_pid()), NOW) == "interrupted"


def test_a_run_on_another_host_is_interrupted_only_once_its_heartbeat_is_stale():
    other = host_id() + 1
    assert run_status(started(exited_pid(), host=other, beat_ago_s=STALE_S - 5), NOW) == "running"
    assert run_status(started(os.getpid(), host=other, beat_ago_s=STALE_S + 5), NOW) == "interrupted"


def test_runs_without_a_run_record_are_judged_by_their_writers():
    assert run_status({"events_applied.0": 5}, NOW) == "unknown"
    assert run_status({"events_applied.0": 5, "finished.0": 1}, NOW) == "finished"


def test_interrupted_runs_are_reported_once(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as st:
        st.set_run_stats("a-killed", {**started(exited_pid(), beat_ago_s=0), "events_applied.0": 10})
        st.set_run_stats("b-live", started(os.getpid(), beat_ago_s=0))
        st.set_run_stats("c-done", {**started(exited_pid()), "run_ended_ms": NOW})
        st.set_run_stats("d-me", started(exited_pid()))
        assert report_interrupted_runs(st, exclude="d-me") == ["a-killed"]
        assert run_status(st.run_stats("a-killed")) == "interrupted"
        assert report_interrupted_runs(st, exclude="d-me") == []


def test_runs_overview_names_every_run_with_its_status(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as st:
        st.set_run_stats("a", {**started(exited_pid(), beat_ago_s=0), "events_applied.0": 7, "events_applied.1": 3,
                               "dead_parse.0": 1})
        st.set_run_stats("b", {**started(os.getpid(), beat_ago_s=0), "run_ended_ms": NOW, "dead_late.0": 2})
        st.set_run_stats("c", {"events_applied.0": 4, "finished.0": 1})
        rows = runs_overview(st, NOW)
    assert [(r["run_id"], r["status"], r["events_applied"], r["dead_lettered"]) for r in rows] == [
        ("a", "interrupted", 10, 1), ("b", "finished", 0, 2), ("c", "finished", 4, 0)]
    assert rows[1]["ended_ms"] == NOW and rows[2]["started_ms"] is None
