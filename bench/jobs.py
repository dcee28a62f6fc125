"""Job runs shared by the benchmarks: the ML-100K replay and any replay file through
``run_local``, and the full job fed by Flink's datagen connector (any number of distinct users, any rate), with the
JVM's peak resident memory sampled while it runs.

Every run checks that each generated event is accounted for (applied, dead-lettered or late)
before its figures are used.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from recstream.config import load_config


def ml_run(work: Path, ml_path: Path, repeat: int, parallelism: int, overrides: list[str], tag: str) -> dict:
    """The ML-100K replay (``repeat`` times, time-shifted) through the job on the local mini-cluster."""
    from recstream.runner import run_local

    tag = f"{tag}-r{repeat}-p{parallelism}"
    cfg = load_config(overrides=[
        "source.kind=movielens", f"source.movielens.path={ml_path}", f"source.movielens.repeat={repeat}",
        f"store.sqlite.path={work / f'store-{tag}.sqlite'}", f"job.work_dir={work / tag}",
        f"job.parallelism={parallelism}", *overrides,
    ])
    summary = run_local(cfg)
    if summary.accounted != summary.events_in:
        raise RuntimeError(f"{tag}: {summary.events_in} events in, {summary.accounted} accounted for")
    return {"tag": tag, "repeat": repeat, "parallelism": parallelism, "events": summary.events_in,
            "net_runtime_s": summary.job_net_runtime_s, "wall_s": round(summary.wall_s, 2),
            "write_span_s": (summary.extra["last_write_ms"] - summary.extra["first_write_ms"]) / 1000,
            "feature_rows": summary.feature_rows,
            "events_per_feature_row": round(summary.events_in / max(summary.feature_rows, 1), 2)}


def largest_over_subtasks(stats: dict, name: str) -> int | None:
    """The largest of a per-subtask counter (``<name>.<subtask>``) in a run's stats, None if absent."""
    vals = [v for k, v in stats.items() if k.split(".")[0] == name and v is not None]
    return max(vals) if vals else None


def staleness_s(stats: dict) -> tuple[float | None, float | None]:
    """(p50, p99) score staleness in seconds from a run's stored counters, when the job exports
    them (``score_staleness_p50_ms.<subtask>`` / ``score_staleness_p99_ms.<subtask>``): the
    largest over subtasks, so the figure never flatters. (None, None) when the job does not."""
    p50, p99 = (largest_over_subtasks(stats, n) for n in ("score_staleness_p50_ms", "score_staleness_p99_ms"))
    return (None if p50 is None else p50 / 1000), (None if p99 is None else p99 / 1000)


def run_staleness_s(store_cfg, run_id: str) -> tuple[float | None, float | None]:
    """:func:`staleness_s` of run ``run_id`` as the store holds its counters."""
    from recstream.store.factory import open_store

    store = open_store(store_cfg, read_only=True)
    try:
        return staleness_s(store.run_stats(run_id))
    finally:
        store.close()


def file_run(work: Path, replay: Path, events: int, tag: str, overrides: list[str], parallelism: int = 2) -> dict:
    """The job on a replay file (or a directory of ``*.jsonl`` parts, one reader each) on the
    local mini-cluster, every line accounted for; peak RSS sampled while it runs."""
    from recstream.runner import run_local

    cfg = load_config(overrides=[
        "source.kind=file", f"source.file.path={replay}", f"store.sqlite.path={work / f'store-{tag}.sqlite'}",
        f"job.work_dir={work / tag}", f"job.parallelism={parallelism}", *overrides])
    with PeakRss() as rss:
        summary = run_local(cfg)
    if summary.events_in != events or summary.accounted != events:
        raise RuntimeError(f"{tag}: {events} lines, {summary.events_in} read, {summary.accounted} accounted for")
    p50, p99 = run_staleness_s(cfg.store, summary.run_id)
    return {"tag": tag, "events": events, "parallelism": parallelism, "net_runtime_s": summary.job_net_runtime_s,
            "wall_s": round(summary.wall_s, 2), "feature_rows": summary.feature_rows,
            "scored_rows": summary.extra.get("scored_rows"), "cold_start_rows": summary.extra.get("cold_start_rows"),
            "dead_lettered": summary.dead_lettered, "score_staleness_p50_s": p50, "score_staleness_p99_s": p99,
            "jvm_peak_rss_mib": round(rss.jvm_peak / 2**20),
            "python_workers_peak_rss_mib": round(rss.py_workers_peak / 2**20)}


def marginal_rate(small: dict, large: dict, seconds: str = "net_runtime_s") -> float:
    """Events/s between two runs of different length (start-up and the last batch delay cancel);
    ``seconds``: the runs' duration key (``net_runtime_s`` local, ``duration_s`` on a cluster)."""
    return (large["events"] - small["events"]) / (large[seconds] - small[seconds])


class PeakRss:
    """Samples the resident memory of this process's Flink JVM (the local mini-cluster: JobManager,
    TaskManager and, in thread mode, the Python operators) and of Python UDF worker processes."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.every_s = every_s
        self.jvm_peak = 0
        self.py_workers_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _procs():
        me = os.getpid()
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    stat = fh.read()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
                with open(f"/proc/{pid}/statm") as fh:
                    rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError, IndexError):
                continue
            out.append((int(pid), ppid, cmd, rss))
        return me, out

    def _loop(self) -> None:
        while not self._stop.is_set():
            me, procs = self._procs()
            jvms = {p for p, pp, cmd, _ in procs if pp == me and "java" in cmd}
            self.jvm_peak = max([self.jvm_peak] + [r for p, _, _, r in procs if p in jvms])
            # process-mode Python workers (pandas UDFs) hang off the JVM via a shell script
            kids = {p for p, pp, _, _ in procs if pp in jvms}
            workers = [r for p, pp, cmd, r in procs if (pp in jvms or pp in kids) and "beam_boot" in cmd]
            self.py_workers_peak = max([self.py_workers_peak, sum(workers)])
            self._stop.wait(self.every_s)


def gen_run(work: Path, tag: str, overrides: list[str], rate: int, events: int, users: int,
            bounded: bool, parallelism: int = 2) -> dict:
    """The full job on ``events`` generated events over ``users`` distinct users at ``rate`` events/s.

    ``bounded``: micro-batches on an arrival-time rowtime with a watermark, so the end of input
    flushes every window (throughput runs); otherwise on processing time as for a live source
    (latency runs; the windows still open when a bounded generator ends are not flushed, so only
    the rows written are counted there)."""
    from flink_jobs.environment import create_environments
    from flink_jobs.feature_job import build_feature_job
    from recstream.runner import read_progress
    from recstream.store.sqlite import SqliteStore

    store = work / f"{tag}.sqlite"
    cfg = load_config(overrides=[
        f"store.sqlite.path={store}", f"job.work_dir={work / tag}", f"job.parallelism={parallelism}",
        "job.arrival_watermark_delay_ms=0", *overrides])
    SqliteStore(store).close()
    env, t_env = create_environments(cfg)
    if bounded:
        batch_time = ("batch_time AS CAST(CURRENT_TIMESTAMP AS TIMESTAMP_LTZ(3)), "
                      "WATERMARK FOR batch_time AS batch_time")
    else:
        batch_time = "batch_time AS PROCTIME()"
    # event types: 1 in 20 a purchase, 1 in 4 a click, the rest views; event time 10 ms apart
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE gen (
          seq BIGINT, u INT, i INT,
          f0 AS CONCAT('{{"event_id":"g', CAST(seq AS STRING), '","user_id":"u', CAST(u AS STRING),
                       '","item_id":"', CAST(i AS STRING), '","event_type":"',
                       CASE WHEN MOD(seq, 20) = 0 THEN 'purchase' WHEN MOD(seq, 4) = 0 THEN 'click' ELSE 'view' END,
                       '","event_time":', CAST(1700000000000 + seq * 10 AS STRING), '}}'),
          {batch_time}
        ) WITH (
          'connector' = 'datagen', 'rows-per-second' = '{rate}', 'number-of-rows' = '{events}',
          'fields.seq.kind' = 'sequence', 'fields.seq.start' = '1', 'fields.seq.end' = '{events}',
          'fields.u.min' = '1', 'fields.u.max' = '{users}', 'fields.i.min' = '1', 'fields.i.max' = '1682')""")
    build_feature_job(env, t_env, cfg, None, tag, source_parallelism=1, bounded=bounded, raw_view="gen")
    t0 = time.perf_counter()
    with PeakRss() as rss:
        net = env.execute(f"bench-{tag}").get_net_runtime() / 1000.0
    wall = time.perf_counter() - t0
    reader = SqliteStore(store, read_only=True)
    stats = reader.run_stats(tag)
    reader.close()
    prog = read_progress(cfg.store, tag)
    accounted = prog.get("events_applied", 0) + prog.get("dead_parse", 0) + prog.get("dead_late", 0)
    if bounded and accounted != events:
        raise RuntimeError(f"{tag}: {events} events generated, {accounted} accounted for")
    return {
        "tag": tag, "rate_events_per_s": rate, "events": events, "users": users, "bounded": bounded,
        "parallelism": parallelism, "events_applied": prog.get("events_applied"),
        "feature_rows": prog.get("feature_rows"), "users_updated": prog.get("users_updated"),
        "users_updated_estimated": bool(prog.get("users_updated_estimated")), "net_runtime_s": net,
        "wall_s": round(wall, 2),
        # each writer subtask keeps its own latency sample: the slowest subtask's figures
        **{f"{q}_latency_s": (largest_over_subtasks(stats, f"latency_{q}_ms") or 0) / 1000 for q in ("p50", "p99", "max")},
        "jvm_peak_rss_mib": round(rss.jvm_peak / 2**20), "python_workers_peak_rss_mib": round(rss.py_workers_peak / 2**20),
    }


def keeps_up(run: dict, seconds: float, slack: float = 0.04) -> bool:
    """A live (unbounded) run kept up when its datagen source emitted at the requested rate: the
    source is throttled by backpressure once the job falls behind, so the run then takes longer
    than ``seconds`` (the job's start and end add ~0.3 s here)."""
    return run["net_runtime_s"] <= seconds * (1 + slack)


def live_max_rate(work: Path, overrides: list[str], users: int, start_rate: float, seconds: int = 20,
                  parallelism: int = 2, log=print, run=None) -> tuple[int, list[dict]]:
    """The highest rate the job sustains on live traffic (processing-time micro-batches) over
    ``users`` users, searched from ``start_rate`` (e.g. the bounded maximum): while nothing has kept
    up, down to the rate the failing run achieved (its events over its runtime; at least a 1.25x
    step); then up in 1.25x steps until a rate fails within one step of the best that kept up
    (:func:`keeps_up`). Returns the rate and the probe runs. ``run(rate) -> dict`` replaces the job
    run (tests of the search).

    Why not the bounded maximum: a bounded run at full speed fills every micro-batch window with
    whatever backpressure lets through, so its batches are larger (more users and events per
    Python call) than live traffic at any lower rate gets; measured here, the live job fell behind
    at half of the bounded maximum (bench/README.md, "Item buckets, the live maximum, ..."). Why
    the jump down: a bounded maximum from short runs can be far off (55k events/s against a live
    maximum near 4k at 1M users), and each 1.25x step down from it costs a probe that runs at the
    job's real rate."""
    probes: list[dict] = []
    passed: list[int] = []
    failed: list[int] = []
    rate = max(1, int(start_rate))
    for _ in range(20):
        r = run(rate) if run else gen_run(work, f"probe-{rate}", overrides, rate, rate * seconds, users,
                                          bounded=False, parallelism=parallelism)
        r["keeps_up"] = keeps_up(r, seconds)
        probes.append(r)
        log(f"  live probe {rate}/s: {'keeps up' if r['keeps_up'] else 'falls behind'} "
            f"(net {r['net_runtime_s']:.1f} s for {seconds} s of events, p99 {r['p99_latency_s']} s)")
        (passed if r["keeps_up"] else failed).append(rate)
        best = max(passed) if passed else None
        lowest_failed = min((f for f in failed if best is None or f > best), default=None)
        if best is not None and lowest_failed is not None and lowest_failed <= best * 1.25 + 1:
            break  # bracketed within one step
        if r["keeps_up"]:
            rate = int(rate * 1.25)
        else:
            achieved = rate * seconds / max(r["net_runtime_s"], 1e-9)
            rate = max(1, int(min(rate / 1.25, achieved)))
    if best is None:
        raise RuntimeError(f"no live rate down to {rate}/s kept up")
    return best, probes
