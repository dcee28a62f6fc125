"""The feature job on a replay file read at a fixed pace, as a live stream would arrive.

``python -m flink_jobs.cluster_entry --input events.jsonl --rate 2000`` (or
``recstream submit --entry flink_jobs.cluster_entry --input events.jsonl -- --rate 2000``):
the same graph as :mod:`flink_jobs.feature_job` with one stateless pacing step after the
file source. A plain replay is read in a second or two and sits in the job's buffers and
window state, so the source is done long before the job is; paced, the source position,
checkpoints and savepoints land mid-file. Used by the failure and upgrade tests, and for
demos / soak runs on a cluster.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from pyflink.datastream import MapFunction


SLEEP_MIN_S = 0.005


class Pace(MapFunction):
    """Pass the raw lines of ``Row(f0)`` records on as strings, at no more than ``rate`` per second
    per subtask (sleeps in small steps)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def open(self, runtime_context):
        self.t0 = None
        self.n = 0

    def map(self, row):
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now
        self.n += 1
        ahead = self.n / self.rate - (now - self.t0)
        if ahead > SLEEP_MIN_S:
            time.sleep(ahead)
        return row[0]


def execute_paced_job(cfg, input_path: Path, run_id: str, rate: float, detached: bool = False):
    from pyflink.common import Types

    from flink_jobs.environment import create_environments
    from flink_jobs.feature_job import build_feature_job, file_source_stream

    env, t_env = create_environments(cfg)
    raw, parallelism = file_source_stream(t_env, cfg, input_path)
    paced = raw.map(Pace(rate / parallelism), output_type=Types.STRING()).name("pace").uid("pace") \
        .set_parallelism(parallelism)
    build_feature_job(env, t_env, cfg, paced, run_id, parallelism, bounded=True, line_based=True)
    return env.execute_async(cfg.job.name) if detached else env.execute(cfg.job.name)


def main(argv=None) -> None:
    from flink_jobs.feature_job import add_job_arguments, run_job

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, type=Path, help="replay file or folder of one JSON event per line")
    ap.add_argument("--rate", type=float, default=1000.0, help="events per second over all readers")
    args = add_job_arguments(ap).parse_args(argv)
    if args.rate <= 0:
        ap.error("--rate must be positive")
    run_job(args, lambda cfg, run_id, detached: execute_paced_job(cfg, args.input, run_id, args.rate, detached))


if __name__ == "__main__":
    main()
