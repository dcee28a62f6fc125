"""Inference inside the job versus raw onnxruntime, and end-to-end latency.

    python bench/inference_bench.py --model-dir models/bench-ml100k [--batch-size 1000] [--provider auto]

Writes ``bench/results/inference.json`` (or ``--out``):
- ``raw_ort_rows_per_s``: ``InterestModel.run`` on pre-encoded batches of ``batch_size`` rows
  (the users' final ML-100K sequences, repeated);
- ``job_rows_per_s``: the job's scoring stage (Arrow pandas UDF: JSON sequence → encode →
  ONNX → JSON result) on the same sequences and batch size, marginal rate between two
  stream lengths on Flink's net runtime (start-up excluded);
- ``ratio_to_raw_ort`` = job / raw;
- ``p50_latency_s`` / ``p99_latency_s``: from the start of an event's micro-batch window (its
  arrival at the latest) to its user's features + scores being written, with the full job fed
  by Flink's datagen over ``--latency-users`` users (``bench/jobs.py``) at half of the full job's
  maximum live throughput on the same traffic (the highest processing-time rate that keeps up,
  ``bench.jobs.live_max_rate``, searched from the bounded maximum); rows written in the first 5 s of output
  (JVM/Python warm-up) are left out.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine_info  # noqa: E402

ML = Path(__file__).resolve().parents[2] / "shared/data/ml-100k"


def ml_sequences(ml_path: Path) -> list[list[str]]:
    from recstream.config import load_config
    from recstream.replay import source_lines
    from udfs.features.batch import fold_raw

    cfg = load_config(overrides=["source.kind=movielens", f"source.movielens.path={ml_path}"])
    states, _, _ = fold_raw(source_lines(cfg), cfg.features.params())
    return [s.sequence.item_ids() for s in states.values()]


def raw_ort(model_dir: Path, provider: str, seqs: list[list[str]], batch: int, rows: int,
            threads: int | None = None, spin: bool = False) -> dict:
    import numpy as np

    from udfs.inference import Scorer

    scorer = Scorer.load(model_dir, provider, threads=threads, spin=spin)
    m = scorer.model
    enc = m.encode_sequences(seqs)
    reps = -(-rows // len(enc))
    x = np.tile(enc, (reps, 1))[:rows]
    m.run(x[:batch])  # warm-up (GPU: kernel selection)
    t0 = time.perf_counter()
    for i in range(0, rows, batch):
        m.run(x[i:i + batch])
    dt = time.perf_counter() - t0
    return {"rows": rows, "seconds": dt, "rows_per_s": rows / dt, "batch_size": batch, "provider": scorer.provider,
            "model_version": m.version, "dim": m.dim, "max_len": m.max_len, "top_k": m.top_k, "n_items": m.n_items}


USERS_PER_ROW = 20  # users per bucket batch fed to the scoring UDF (the job's rows are bucket batches)


def job_stage(model_dir: Path, provider: str, seqs, batch: int, rows: int, work: Path,
              threads: int | None = None, spin: bool = False, users_per_row: int = USERS_PER_ROW) -> float:
    """Net runtime of: file of bucket batches (score-input lines as the fold emits them, ``users_per_row``
    users each) → pandas UDF scoring → discard; ``rows`` users in all."""
    from pyflink.common import Types
    from pyflink.datastream.connectors import Sink
    from pyflink.table import DataTypes
    from pyflink.table.expressions import col
    from pyflink.table.udf import udf

    from flink_jobs.environment import create_environments
    from flink_jobs.feature_job import DISCARD, file_source_stream
    from recstream.config import load_config
    from udfs.flink.score import ScoreUsers
    from udfs.inference import ScorerOptions

    path = work / f"seqs-{rows}.jsonl"
    with path.open("w") as fh:
        for start in range(0, rows, users_per_row):
            # tab-joined here (one file line), newline-joined by a map before the UDF, as in the job
            fh.write("\t".join(json.dumps([seqs[i % len(seqs)], 0, 0, 1_000_000], separators=(",", ":"))
                               for i in range(start, min(rows, start + users_per_row))) + "\n")
    cfg = load_config(overrides=[f"model.path={model_dir}", "model.enabled=true", f"model.batch_size={batch}",
                                 f"model.provider={provider}"])
    env, t_env = create_environments(cfg)
    raw, _ = file_source_stream(t_env, cfg, path)
    options = ScorerOptions(str(model_dir), provider, cfg.model.gpu_mem_limit_mb, 0, threads, None, spin, batch)
    score = udf(ScoreUsers(options), result_type=DataTypes.STRING(), func_type="pandas")
    rows_stream = raw.map(lambda row: row[0].replace("\t", "\n"), output_type=Types.STRING())
    table = t_env.from_data_stream(rows_stream).select(score(col("f0")).alias("s"))
    t_env.to_data_stream(table).map(lambda r: len(r[0]), output_type=Types.INT()).sink_to(Sink(DISCARD))
    return env.execute("bench-inference-stage").get_net_runtime() / 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (model.threads)")
    ap.add_argument("--spin", action="store_true", help="let onnxruntime's thread pool spin (model.spin)")
    ap.add_argument("--rows", type=int, nargs=2, default=[20_000, 80_000], help="two stream lengths for the marginal rate")
    ap.add_argument("--latency-seconds", type=int, default=20)
    ap.add_argument("--latency-users", type=int, default=10_000)
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "inference.json")
    args = ap.parse_args()
    info = machine_info()
    seqs = ml_sequences(ML)
    raw = raw_ort(args.model_dir, args.provider, seqs, args.batch_size, args.rows[1], args.threads, args.spin)
    print(f"raw onnxruntime: {raw['rows_per_s']:.0f} rows/s on {raw['provider']}", flush=True)
    result = {"benchmark": "inference", "batch_size": args.batch_size, "provider": raw["provider"],
              "threads": args.threads, "spin": args.spin,
              "raw_ort_rows_per_s": round(raw["rows_per_s"]), "raw_ort": raw}
    with tempfile.TemporaryDirectory(prefix="recstream-bench-") as tmp:
        work = Path(tmp)
        t1 = job_stage(args.model_dir, args.provider, seqs, args.batch_size, args.rows[0], work, args.threads, args.spin)
        t2 = job_stage(args.model_dir, args.provider, seqs, args.batch_size, args.rows[1], work, args.threads, args.spin)
        job_rate = (args.rows[1] - args.rows[0]) / (t2 - t1)
        print(f"job scoring stage: {job_rate:.0f} rows/s (net {t1:.1f}s / {t2:.1f}s)", flush=True)
        result.update(job_rows_per_s=round(job_rate), ratio_to_raw_ort=round(job_rate / raw["rows_per_s"], 3),
                      job_stage_runs={"rows": args.rows, "net_runtime_s": [t1, t2]})
        if not args.skip_latency:
            # maximum throughput of the full job (features + scoring + store) on generated traffic over
            # --latency-users users (bounded, every event accounted for), then the same traffic at half
            # that rate on processing-time batches, as for a live source (bench/jobs.py, as bench e2e)
            from bench.jobs import gen_run, live_max_rate, marginal_rate

            model = [f"model.path={args.model_dir}", "model.enabled=true", f"model.batch_size={args.batch_size}",
                     f"model.provider={args.provider}", *([f"model.threads={args.threads}"] if args.threads else []),
                     f"model.spin={str(args.spin).lower()}"]
            u = args.latency_users
            gen_run(work, "warm", model, 10_000_000, 10_000, u, bounded=True)  # JIT: not counted
            g1 = gen_run(work, "max-1", model, 10_000_000, 10_000, u, bounded=True)
            g2 = gen_run(work, "max-2", model, 10_000_000, 30_000, u, bounded=True)
            bounded_max = marginal_rate(g1, g2)
            print(f"full job with scoring, generated traffic over {u} users: bounded max {bounded_max:.0f} events/s",
                  flush=True)
            max_rate, probes = live_max_rate(work, model, u, bounded_max, args.latency_seconds,
                                             log=lambda m: print(m, flush=True))
            print(f"live max (keeps up): {max_rate} events/s", flush=True)
            rate = max(int(max_rate / 2), 1)
            lat = gen_run(work, "lat-50", model, rate, rate * args.latency_seconds, u, bounded=False)
            print(f"latency at {rate} events/s: p50 {lat['p50_latency_s']} s, p99 {lat['p99_latency_s']} s", flush=True)
            result.update(full_job_events_per_s=round(max_rate), full_job_bounded_events_per_s=round(bounded_max),
                          full_job_runs=[g1, g2], live_probes=probes, latency=lat,
                          p50_latency_s=lat["p50_latency_s"], p99_latency_s=lat["p99_latency_s"])
    result.update(device=info["cpu"] if raw["provider"].startswith("CPU") else gpu_name(), machine=info,
                  created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result.get(k) for k in ("job_rows_per_s", "raw_ort_rows_per_s", "ratio_to_raw_ort",
                                                 "provider", "p50_latency_s", "p99_latency_s", "device")}))


def gpu_name() -> str:
    import subprocess

    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=30).stdout.strip() or "GPU"
    except Exception:
        return "GPU"


if __name__ == "__main__":
    main()
