"""How throughput, memory and state grow with the number of users and the sequence length N.

    recstream bench scale [--users 10000 100000 1000000] [--events 40000] [--model-dir DIR]

- by users (N=50): the full default job (features + inference + SQLite store) on ``--events``
  generated events spread over 10k, 100k and 1M distinct users (datagen, bounded arrival-time
  batches; every event accounted for), events/s on the job's net runtime, and the peak RSS of
  the Flink JVM (local mini-cluster: JobManager + TaskManager + the thread-mode Python operators
  in one process) and of the process-mode Python UDF workers (the pandas scoring UDF).
  The more users, the fewer events share a user's micro-batch, so the more fold calls, model
  rows and store writes per event: this is the curve from "few hot users" to "every event is
  a new row".
- by N (20, 50, 200): state bytes per user as the job stores it (ML-100K users, median over
  users whose sequence is full), and the job's throughput on the same generated traffic.
- memory of the state itself at 1M users: 1M ``UserState`` objects folded in this process
  (3 events each), pickled sizes summed: what a heap state backend holds.

Writes ``bench/results/scale.json`` and ``scale.png``.
"""
from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.jobs import gen_run  # noqa: E402
from bench.machine import machine_info  # noqa: E402

ML = REPO.parent / "shared/data/ml-100k"


def heap_state_bytes(users: int, events_per_user: int = 3) -> dict:
    """Fold ``users`` x ``events_per_user`` synthetic events with the job's code; pickled bytes."""
    from recstream.config import load_config
    from udfs.features.runtime import FoldOptions, FoldRuntime
    from udfs.features.user_state import UserState

    cfg = load_config()
    params = cfg.features.params()
    rt = FoldRuntime(FoldOptions.from_config(cfg), params)
    total = 0
    t0 = time.perf_counter()
    for u in range(users):
        s = UserState(params)
        for k in range(events_per_user):
            s.apply_event({"event_id": f"e{u}-{k}", "user_id": f"u{u}", "item_id": str((u * 7 + k * 13) % 1682),
                           "event_type": "view", "event_time": 1_700_000_000_000 + k * 60_000}, params, rt)
        total += len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL))
    return {"users": users, "events_per_user": events_per_user, "pickled_bytes_total": total,
            "pickled_bytes_per_user": round(total / users, 1), "seconds": round(time.perf_counter() - t0, 1)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--sequence-lengths", type=int, nargs="+", default=[20, 50, 200])
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--model-dir", type=Path, default=None)
    ap.add_argument("--parallelism", type=int, default=2)
    ap.add_argument("--ml-path", type=Path, default=ML)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scale.json")
    args = ap.parse_args(argv)
    from bench.e2e_bench import ensure_model
    from bench.state_size import state_sizes
    from recstream.config import load_config
    from recstream.replay import write_replay_file

    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="recstream-scale-") as tmp:
        work = Path(tmp)
        model_dir = ensure_model(args.model_dir, args.ml_path, work)
        model = [f"model.path={model_dir}", "model.enabled=true", "model.max_wait_ms=50"]
        gen_run(work, "warm", model, 10_000_000, 5_000, 1_000, bounded=True, parallelism=args.parallelism)
        by_users = []
        for u in args.users:
            r = gen_run(work, f"users-{u}", model, 10_000_000, args.events, u, bounded=True,
                        parallelism=args.parallelism)
            r["events_per_s"] = round(args.events / r["net_runtime_s"])
            by_users.append(r)
            print(f"{u:>9,} users: {r['events_per_s']:,} events/s, {r['feature_rows']:,} rows, "
                  f"JVM peak {r['jvm_peak_rss_mib']} MiB, workers {r['python_workers_peak_rss_mib']} MiB", flush=True)
        by_n = []
        mid = sorted(args.users)[len(args.users) // 2]
        for n in args.sequence_lengths:
            cfg = load_config(overrides=["source.kind=movielens", f"source.movielens.path={args.ml_path}",
                                         f"features.sequence_length={n}"])
            replay = work / f"ml-{n}.jsonl"
            write_replay_file(cfg, replay)
            st = state_sizes(cfg, replay.read_text().splitlines())
            r = gen_run(work, f"n-{n}", [*model, f"features.sequence_length={n}"], 10_000_000, args.events, mid,
                        bounded=True, parallelism=args.parallelism)
            row = {"sequence_length": n, "users": mid, "events_per_s": round(args.events / r["net_runtime_s"]),
                   "state_bytes_median": st["bytes_median"],
                   "state_bytes_median_full_sequence": st["bytes_median_full_sequence"],
                   "state_bytes_p99": st["bytes_p99"], "state_bytes_by_part_median": st["bytes_by_part_median"],
                   "run": r}
            by_n.append(row)
            print(f"N={n}: state median {st['bytes_median']} B (full sequence {st['bytes_median_full_sequence']} B), "
                  f"{row['events_per_s']:,} events/s", flush=True)
        heap = heap_state_bytes(max(args.users))
        print(f"{heap['users']:,} user states: {heap['pickled_bytes_total'] / 2**20:.0f} MiB pickled", flush=True)
    result = {"benchmark": "scale", "events_per_run": args.events, "parallelism": args.parallelism,
              "scope": "all default features + inference + SQLite store, datagen traffic (1682 items)",
              "by_users": by_users, "by_sequence_length": by_n, "heap_state_at_max_users": heap,
              "method": "events / job net runtime (includes Python worker start-up, ~2-4 s)",
              "machine": info, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    from bench.report import plot_scale, save_result

    save_result(result, args.out, plot_scale)
    return result


if __name__ == "__main__":
    main()
