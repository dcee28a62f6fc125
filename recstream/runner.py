"""Run the feature job in the local mini-cluster, with progress, a run record and a summary.

Every run records its life in the store's ``run_stats`` next to the writers' counters:
``run_started_ms``, ``run_pid`` and ``run_host`` at start, ``run_heartbeat_ms`` every
``HEARTBEAT_S`` while it runs, ``run_ended_ms`` (and ``run_failed`` 1 when the job failed)
at the end. A run that was killed (``kill -9``, power loss) never writes its end, so
:func:`run_status` calls it ``interrupted`` once its process is gone (same host) or its
heartbeat is older than ``STALE_S``; the next run reports such runs once in its summary.
"""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from recstream.config import RecstreamConfig
from recstream.replay import count_lines, write_replay_file
from recstream.store import open_store

HEARTBEAT_S = 5.0
STALE_S = 60.0  # an unended run whose heartbeat is older than this is no longer running

# One feature row (and scored row) is written per user per bucket micro-batch, and micro-batches
# are cut on arrival time: how a user's events fall into them depends on timing, so these counts
# vary between runs of the same input. events_in/applied, dead letters and users_updated do not.
TIMING_DEPENDENT = ("feature_rows", "scored_rows", "cold_start_rows")


class JobFailed(RuntimeError):
    def __init__(self, run_id: str, cause: BaseException):
        super().__init__(f"job run {run_id} failed: {_root_cause(cause)}")
        self.run_id = run_id
        self.cause = cause


def _root_cause(exc: BaseException) -> str:
    text = str(exc)
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    causes = [l for l in lines if l.startswith("Caused by:")]
    if causes:
        return causes[-1]
    java = [l for l in lines if "Exception:" in l or "Error:" in l]
    return java[0] if java else (lines[0] if lines else type(exc).__name__)


@dataclass
class RunSummary:
    run_id: str
    input_path: Path | str  # the replay file(s), or a kafka:// URL
    events_in: int
    events_applied: int = 0
    dead_parse: int = 0
    dead_late: int = 0
    users_updated: int = 0
    feature_rows: int = 0
    job_status: str = "UNKNOWN"
    wall_s: float = 0.0
    job_net_runtime_s: float | None = None
    extra: dict = field(default_factory=dict)
    interrupted_runs: list[str] = field(default_factory=list)  # earlier runs on this store, first reported now

    @property
    def dead_lettered(self) -> int:
        return self.dead_parse + self.dead_late

    @property
    def accounted(self) -> int:
        return self.events_applied + self.dead_lettered


def _sum_stats(stats: dict[str, int], key: str) -> int:
    return sum(v for k, v in stats.items() if k.split(".")[0] == key)


def read_progress(store_cfg, run_id: str) -> dict[str, int]:
    """The run's counters as the writers last flushed them (empty until the store has them)."""
    try:
        store = open_store(store_cfg, read_only=True)
    except Exception:
        return {}
    try:
        stats = store.run_stats(run_id)
    except Exception:
        return {}
    finally:
        store.close()
    keys = ("events_applied", "dead_parse", "dead_late", "users_updated", "users_updated_estimated", "feature_rows",
            "scored_rows", "cold_start_rows", "input_items", "unknown_items", "finished")
    out = {k: _sum_stats(stats, k) for k in keys}
    firsts = [v for k, v in stats.items() if k.startswith("first_write_ms") and v]
    lasts = [v for k, v in stats.items() if k.startswith("last_write_ms") and v]
    if firsts and lasts:
        out["first_write_ms"], out["last_write_ms"] = min(firsts), max(lasts)
    return out


def host_id() -> int:
    """This machine in ``run_stats`` (integers only there): a CRC-32 of the host name."""
    return zlib.crc32(socket.gethostname().encode())


def run_status(stats: dict[str, int], now_ms: int | None = None) -> str:
    """``finished`` | ``failed`` | ``running`` | ``interrupted`` | ``unknown`` from a run's stored counters.

    Runs without a run record (cluster submissions, backfills) are ``finished`` once a writer
    recorded closing, ``unknown`` before (the cluster's REST API knows more)."""
    if "run_ended_ms" in stats:
        return "failed" if stats.get("run_failed") else "finished"
    if "run_started_ms" not in stats:
        return "finished" if any(k.split(".")[0] == "finished" for k in stats) else "unknown"
    if "run_interrupted_ms" in stats:
        return "interrupted"
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if now_ms - stats.get("run_heartbeat_ms", stats["run_started_ms"]) > STALE_S * 1000:
        return "interrupted"
    if stats.get("run_host") == host_id() and "run_pid" in stats:
        from recstream.cluster.local import pid_alive

        if not pid_alive(stats["run_pid"]):
            return "interrupted"
    return "running"


def report_interrupted_runs(store, exclude: str | None = None) -> list[str]:
    """Earlier runs on ``store`` that were interrupted and not reported before; marks them reported
    (``run_interrupted_ms``) so each is named once."""
    found = []
    now = int(time.time() * 1000)
    for rid in store.run_ids():
        if rid == exclude:
            continue
        stats = store.run_stats(rid)
        if "run_interrupted_ms" not in stats and run_status(stats, now) == "interrupted":
            store.set_run_stats(rid, {"run_interrupted_ms": now})
            found.append(rid)
    return found


def runs_overview(store, now_ms: int | None = None) -> list[dict]:
    """One line per run on ``store``, oldest first: ``{'run_id', 'status', 'started_ms', 'ended_ms',
    'events_applied', 'dead_lettered'}`` (for ``recstream inspect runs`` and audits)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    out = []
    for rid in store.run_ids():
        stats = store.run_stats(rid)
        out.append({"run_id": rid, "status": run_status(stats, now_ms), "started_ms": stats.get("run_started_ms"),
                    "ended_ms": stats.get("run_ended_ms"), "events_applied": _sum_stats(stats, "events_applied"),
                    "dead_lettered": _sum_stats(stats, "dead_parse") + _sum_stats(stats, "dead_late")})
    return out


def prepare_input(cfg: RecstreamConfig, input_path: Path | None = None) -> tuple[Path, int]:
    if input_path is None and cfg.source.kind == "file":
        input_path = cfg.source.file.path
    if input_path is not None:
        if not Path(input_path).exists():
            raise FileNotFoundError(f"input file {input_path} not found")
        return Path(input_path), count_lines(Path(input_path))
    if cfg.job.parallelism > 1:  # one file per parallel reader, split by user id
        path = cfg.job.work_dir / f"replay-{cfg.source.kind}"
        return path, write_replay_file(cfg, path, partitions=cfg.job.parallelism)
    path = cfg.job.work_dir / f"replay-{cfg.source.kind}.jsonl"
    return path, write_replay_file(cfg, path)


def run_local(
    cfg: RecstreamConfig,
    input_path: Path | None = None,
    on_progress: Callable[[dict[str, int]], None] | None = None,
    poll_s: float = 0.5,
    prepared: tuple[Path, int] | None = None,
) -> RunSummary:
    """Run the file/replay job. ``prepared``: the (path, line count) that :func:`prepare_input`
    already returned, so a caller that needed the count first does not read the input twice."""
    from flink_jobs.feature_job import execute_file_job

    path, n_lines = prepared if prepared is not None else prepare_input(cfg, input_path)
    return _run(cfg, lambda run_id: execute_file_job(cfg, path, run_id), path, n_lines, on_progress, poll_s)


def run_kafka_local(
    cfg: RecstreamConfig,
    on_progress: Callable[[dict[str, int]], None] | None = None,
    poll_s: float = 0.5,
    events_in: int = 0,
) -> RunSummary:
    """Run the Kafka job in the local mini-cluster; bounded when ``kafka.stop_offsets`` is set
    (``events_in``: how many records lie before the stop offsets, when the caller knows)."""
    from flink_jobs.kafka_job import execute_kafka_job

    label = f"kafka://{cfg.kafka.bootstrap_servers}/{cfg.kafka.topics.events}"  # a URL: not a Path (it would drop a /)
    return _run(cfg, lambda run_id: execute_kafka_job(cfg, run_id), label, events_in, on_progress, poll_s)


def _run(cfg, execute, label: Path | str, events_in: int, on_progress, poll_s: float) -> RunSummary:
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    record = open_store(cfg.store)  # SQLite: also creates the schema before readers poll it
    try:
        return _run_recorded(record, run_id, cfg, execute, label, events_in, on_progress, poll_s)
    finally:
        record.close()


def _run_recorded(record, run_id: str, cfg, execute, label: Path | str, events_in: int, on_progress,
                  poll_s: float) -> RunSummary:
    started = int(time.time() * 1000)
    record.set_run_stats(run_id, {"run_started_ms": started, "run_heartbeat_ms": started, "run_pid": os.getpid(),
                                  "run_host": host_id()})
    interrupted = report_interrupted_runs(record, exclude=run_id)
    t0 = time.monotonic()
    # execute() blocks until the job ends; run it in a thread and poll the store for progress
    # (the local MiniCluster shuts down right after the job, so JobClient polling is unreliable).
    outcome: dict = {}

    def _execute():
        try:
            outcome["result"] = execute(run_id)
        except BaseException as exc:  # surfaced below
            outcome["error"] = exc

    worker = threading.Thread(target=_execute, name="flink-execute", daemon=True)
    worker.start()
    beat = time.monotonic()
    try:
        while worker.is_alive():
            worker.join(poll_s)
            if on_progress:
                on_progress(read_progress(cfg.store, run_id))
            if time.monotonic() - beat >= HEARTBEAT_S:
                beat = time.monotonic()
                try:
                    record.set_run_stats(run_id, {"run_heartbeat_ms": int(time.time() * 1000)})
                except Exception:  # a missed beat is harmless (the next one follows); never fail the run
                    pass
    except KeyboardInterrupt:
        record.set_run_stats(run_id, {"run_interrupted_ms": int(time.time() * 1000)})
        raise
    record.set_run_stats(run_id, {"run_ended_ms": int(time.time() * 1000), "run_failed": int("error" in outcome)})
    if "error" in outcome:
        raise JobFailed(run_id, outcome["error"])
    status = "FINISHED"
    net = outcome["result"].get_net_runtime() / 1000.0
    wall = time.monotonic() - t0
    p = read_progress(cfg.store, run_id)
    if on_progress:
        on_progress(p)
    return RunSummary(
        run_id=run_id, input_path=label, events_in=events_in, events_applied=p.get("events_applied", 0),
        dead_parse=p.get("dead_parse", 0), dead_late=p.get("dead_late", 0),
        users_updated=p.get("users_updated", 0), feature_rows=p.get("feature_rows", 0),
        job_status=status, wall_s=wall, job_net_runtime_s=net,
        extra={k: p[k] for k in ("first_write_ms", "last_write_ms", "scored_rows", "cold_start_rows",
                                 "input_items", "unknown_items",
                                 "users_updated_estimated") if k in p},
        interrupted_runs=interrupted,
    )
