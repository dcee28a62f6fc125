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
  by a rate-limited generator (Flink datagen, 100k users, processing-time micro-batches as for a
  live source) at half of the full job's measured maximum throughput on the same traffic; rows
  written in the first 5 s of output (JVM/Python warm-up) are left out.
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


def ml_sequences(ml_path: Path) -> list[list[dict]]:
    from recstream.config import load_config
    from recstream.replay import source_lines
    from udfs.features.batch import fold_raw

    cfg = load_config(overrides=["source.kind=movielens", f"source.movielens.path={ml_path}"])
    states, _, _ = fold_raw(source_lines(cfg), cfg.features.params())
    return [s.sequence_snapshot() for s in states.values()]


def raw_ort(model_dir: Path, provider: str, seqs: list[list[dict]], batch: int, rows: int) -> dict:
    import numpy as np

    from udfs.inference import Scorer

    scorer = Scorer.load(model_dir, provider)
    m = scorer.model
    enc = m.encode_sequences([[e["item_id"] for e in s] for s in seqs])
    reps = -(-rows // len(enc))
    x = np.tile(enc, (reps, 1))[:rows]
    m.run(x[:batch])  # warm-up (GPU: kernel selection)
    t0 = time.perf_counter()
    for i in range(0, rows, batch):
        m.run(x[i:i + batch])
    dt = time.perf_counter() - t0
    return {"rows": rows, "seconds": dt, "rows_per_s": rows / dt, "provider": scorer.provider,
            "model_version": m.version, "dim": m.dim, "max_len": m.max_len, "top_k": m.top_k, "n_items": m.n_items}


def job_stage(model_dir: Path, provider: str, seqs, batch: int, rows: int, work: Path) -> float:
    """Net runtime of: file of item-id lists (JSON, as the fold emits them) → pandas UDF scoring → discard."""
    from pyflink.common import Types
    from pyflink.datastream.connectors import Sink
    from pyflink.table import DataTypes
    from pyflink.table.expressions import col, lit
    from pyflink.table.udf import udf

    from flink_jobs.environment import create_environments
    from flink_jobs.feature_job import DISCARD, file_source_stream
    from recstream.config import load_config
    from udfs.flink.score import ScoreUsers

    path = work / f"seqs-{rows}.jsonl"
    with path.open("w") as fh:
        for i in range(rows):
            fh.write(json.dumps([e["item_id"] for e in seqs[i % len(seqs)]], separators=(",", ":")) + "\n")
    cfg = load_config(overrides=[f"model.path={model_dir}", "model.enabled=true", f"model.batch_size={batch}",
                                 f"model.provider={provider}"])
    env, t_env = create_environments(cfg)
    raw, _ = file_source_stream(env, path)
    score = udf(ScoreUsers(str(model_dir), provider, cfg.model.gpu_mem_limit_mb, 0, None),
                result_type=DataTypes.STRING(), func_type="pandas")
    table = t_env.from_data_stream(raw).select(score(col("f0"), lit(0), lit(1_000_000), lit(0)).alias("s"))
    t_env.to_data_stream(table).map(lambda r: len(r[0]), output_type=Types.INT()).sink_to(Sink(DISCARD))
    return env.execute("bench-inference-stage").get_net_runtime() / 1000.0


def latency_run(model_dir: Path, provider: str, batch: int, work: Path, rate: int, seconds: int,
                n: int | None = None, users: int = 100_000) -> dict:
    """Full job fed by Flink's datagen at ``rate`` events/s; latency percentiles from the writer."""
    from flink_jobs.environment import create_environments
    from flink_jobs.feature_job import build_feature_job
    from recstream.config import load_config
    from recstream.runner import read_progress
    from recstream.store.sqlite import SqliteStore

    store = work / f"latency-{rate}.sqlite"
    cfg = load_config(overrides=[
        f"store.sqlite.path={store}", f"model.path={model_dir}", "model.enabled=true", f"model.batch_size={batch}",
        f"model.provider={provider}", "job.arrival_watermark_delay_ms=0", "model.max_wait_ms=50",
        "model.cold_start_min_events=0",  # every row goes through the model
    ])
    SqliteStore(store).close()
    env, t_env = create_environments(cfg)
    n = n or rate * seconds
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE gen (
          seq BIGINT, u INT, i INT,
          f0 AS CONCAT('{{"event_id":"g', CAST(seq AS STRING), '","user_id":"', CAST(u AS STRING),
                       '","item_id":"', CAST(i AS STRING), '","event_type":"click","event_time":',
                       CAST(1700000000000 + seq * 50 AS STRING), '}}'),
          batch_time AS PROCTIME()
        ) WITH (
          'connector' = 'datagen', 'rows-per-second' = '{rate}', 'number-of-rows' = '{n}',
          'fields.seq.kind' = 'sequence', 'fields.seq.start' = '1', 'fields.seq.end' = '{n}',
          'fields.u.min' = '1', 'fields.u.max' = '{users}', 'fields.i.min' = '1', 'fields.i.max' = '1682')""")
    # processing-time batches, as for a live (unbounded) source: a quiet source never holds a batch back
    build_feature_job(env, t_env, cfg, None, "latency", source_parallelism=1, bounded=False, raw_view="gen")
    net = env.execute("bench-latency").get_net_runtime() / 1000.0
    p = SqliteStore(store, read_only=True)
    stats = p.run_stats("latency")
    p.close()
    prog = read_progress(cfg.store, "latency")
    return {"rate_events_per_s": rate, "events": n, "users": users, "events_applied": prog.get("events_applied"), "net_runtime_s": net,
            "p50_latency_s": stats.get("latency_p50_ms.0", 0) / 1000, "p99_latency_s": stats.get("latency_p99_ms.0", 0) / 1000,
            "max_latency_s": stats.get("latency_max_ms.0", 0) / 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--rows", type=int, nargs=2, default=[20_000, 80_000], help="two stream lengths for the marginal rate")
    ap.add_argument("--latency-seconds", type=int, default=20)
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "inference.json")
    args = ap.parse_args()
    info = machine_info()
    seqs = ml_sequences(ML)
    raw = raw_ort(args.model_dir, args.provider, seqs, args.batch_size, args.rows[1])
    print(f"raw onnxruntime: {raw['rows_per_s']:.0f} rows/s on {raw['provider']}", flush=True)
    result = {"benchmark": "inference", "batch_size": args.batch_size, "provider": raw["provider"],
              "raw_ort_rows_per_s": round(raw["rows_per_s"]), "raw_ort": raw}
    with tempfile.TemporaryDirectory(prefix="recstream-bench-") as tmp:
        work = Path(tmp)
        t1 = job_stage(args.model_dir, args.provider, seqs, args.batch_size, args.rows[0], work)
        t2 = job_stage(args.model_dir, args.provider, seqs, args.batch_size, args.rows[1], work)
        job_rate = (args.rows[1] - args.rows[0]) / (t2 - t1)
        print(f"job scoring stage: {job_rate:.0f} rows/s (net {t1:.1f}s / {t2:.1f}s)", flush=True)
        result.update(job_rows_per_s=round(job_rate), ratio_to_raw_ort=round(job_rate / raw["rows_per_s"], 3),
                      job_stage_runs={"rows": args.rows, "net_runtime_s": [t1, t2]})
        if not args.skip_latency:
            # maximum throughput of the full job (features + scoring + store) on generated traffic
            # spread over 100k users, so a micro-batch almost never holds two events of one user (every
            # event costs a fold call, a model row and a store write: the worst case for coalescing);
            # the latency run uses the same traffic at half that rate
            g1 = latency_run(args.model_dir, args.provider, args.batch_size, work, 1_000_000, 0, n=10_000)
            g2 = latency_run(args.model_dir, args.provider, args.batch_size, work, 1_000_000, 0, n=40_000)
            max_rate = (g2["events"] - g1["events"]) / (g2["net_runtime_s"] - g1["net_runtime_s"])
            print(f"full job with scoring, generated traffic: {max_rate:.0f} events/s", flush=True)
            lat = latency_run(args.model_dir, args.provider, args.batch_size, work, max(int(max_rate / 2), 1),
                              args.latency_seconds)
            print(f"latency at {lat['rate_events_per_s']} events/s: p50 {lat['p50_latency_s']} s, "
                  f"p99 {lat['p99_latency_s']} s", flush=True)
            result.update(full_job_events_per_s=round(max_rate), full_job_runs=[g1, g2], latency=lat,
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
