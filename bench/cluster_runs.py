"""The ML-100K replay through the job on standalone clusters started from the pip package, for
the throughput benchmarks: one cluster per TaskManager layout, all up at once, jobs alternated
between them so the box's drift hits every layout alike.

Why layouts matter in thread mode: the Python operators of a TaskManager run inside its JVM's one
embedded CPython, i.e. under one GIL; one TaskManager per core gives each core its own interpreter
(bench/README.md).

The rate of a layout is marginal, ``(N_big - N_small) / (d_big - d_small)`` on the jobs' REST
durations (submission to FINISHED, so scheduling and Python start-up cancel), per pair of
back-to-back runs; each run's events must all be accounted for (applied or dead-lettered)
in the store before its figure is used.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from bench.jobs import marginal_rate
from recstream.cluster.local import free_port
from recstream.config import load_config


def parse_layout(text: str) -> tuple[int, int]:
    """``"2x1"`` → (2 TaskManagers, 1 slot each)."""
    try:
        tms, slots = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"layout {text!r}: expected <taskmanagers>x<slots>, e.g. 2x1") from None
    if tms < 1 or slots < 1:
        raise ValueError(f"layout {text!r}: both numbers must be >= 1")
    return tms, slots


class LayoutClusters:
    """Starts one standalone cluster per layout (own home and free ports); ``run`` submits the
    replay to one of them and waits until it FINISHED. Use as a context manager (stops them all)."""

    def __init__(self, work: Path, layouts: list[str], parallelism: int, overrides: list[str],
                 cluster_extra: list[str] = ()) -> None:
        self.work = work
        self.cluster_extra = list(cluster_extra)  # cluster.* settings for every cluster, e.g. taskmanager_memory
        self.layouts = layouts
        self.parallelism = parallelism
        self.overrides = overrides
        self.clusters: dict[str, object] = {}
        self.cluster_overrides: dict[str, list[str]] = {}

    def __enter__(self):
        from recstream.cluster import LocalCluster

        try:
            for name in self.layouts:
                tms, slots = parse_layout(name)
                if tms * slots < self.parallelism:
                    raise ValueError(f"layout {name} has {tms * slots} slots, fewer than parallelism {self.parallelism}")
                ov = [f"cluster.home={self.work / f'cluster-{name}'}", f"cluster.rest_port={free_port()}",
                      f"cluster.rpc_port={free_port()}", f"cluster.taskmanagers={tms}", f"cluster.slots={slots}",
                      "restart.attempts=0", *self.cluster_extra]
                self.cluster_overrides[name] = ov
                cfg = load_config(overrides=ov)
                cluster = LocalCluster(cfg.cluster, cfg.checkpoint, cfg.restart)
                cluster.start()
                self.clusters[name] = cluster
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for cluster in self.clusters.values():
            cluster.stop()

    def run(self, name: str, replay: Path, events: int, tag: str) -> dict:
        from recstream.cluster.rest import FlinkRest
        from recstream.cluster.submit import submit
        from recstream.runner import read_progress

        cfg = load_config(overrides=[*self.cluster_overrides[name], f"store.sqlite.path={self.work / f'{tag}.sqlite'}",
                                     f"job.work_dir={self.work / tag}", f"job.parallelism={self.parallelism}",
                                     *self.overrides])
        rest = FlinkRest(f"http://127.0.0.1:{cfg.cluster.rest_port}")
        sub = submit(cfg, entry_args=["--input", str(replay)])
        state = rest.wait_for_state(sub.job_id, {"FINISHED"}, timeout_s=1800)
        duration_s = rest.job(sub.job_id)["duration"] / 1000.0
        prog = read_progress(cfg.store, sub.run_id)
        accounted = prog.get("events_applied", 0) + prog.get("dead_parse", 0) + prog.get("dead_late", 0)
        if accounted != events:
            raise RuntimeError(f"{tag}: {events} events in, {accounted} accounted for")
        from bench.jobs import run_staleness_s

        p50, p99 = run_staleness_s(cfg.store, sub.run_id)
        return {"tag": tag, "layout": name, "events": events, "duration_s": duration_s, "state": state,
                "feature_rows": prog.get("feature_rows"), "scored_rows": prog.get("scored_rows"),
                "score_staleness_p50_s": p50, "score_staleness_p99_s": p99}


def layout_rates(work: Path, layouts: list[str], replays: dict[int, tuple[Path, int]], parallelism: int,
                 overrides: list[str], repeats: int, log=print, cluster_extra: list[str] = ()) -> dict:
    """Median marginal events/s per layout between the smallest and largest replay in ``replays``
    (``{repeat: (path, events)}``), ``repeats`` pairs per layout, layout order alternated per round,
    after one warm-up run per cluster."""
    small, large = min(replays), max(replays)
    out: dict[str, dict] = {name: {"runs": [], "pair_rates_events_per_s": []} for name in layouts}
    with LayoutClusters(work, layouts, parallelism, overrides, cluster_extra) as clusters:
        for name in layouts:  # JIT, page cache and the TaskManagers' Python start, not counted
            clusters.run(name, *replays[small], f"cluster-{name}-warm")
        for i in range(repeats):
            for name in (layouts if i % 2 == 0 else layouts[::-1]):
                a = clusters.run(name, *replays[small], f"cluster-{name}-{i}-r{small}")
                b = clusters.run(name, *replays[large], f"cluster-{name}-{i}-r{large}")
                rate = marginal_rate(a, b, "duration_s")
                out[name]["runs"] += [a, b]
                out[name]["pair_rates_events_per_s"].append(round(rate))
                log(f"cluster {name} pair {i + 1}: {rate:.0f} events/s ({a['duration_s']:.1f} s / {b['duration_s']:.1f} s)")
    for name, res in out.items():
        res["events_per_s"] = round(statistics.median(res["pair_rates_events_per_s"]))
        res["taskmanagers"], res["slots"] = parse_layout(name)
    return out
