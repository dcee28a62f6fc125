"""Scoring on a GPU machine without Flink: raw onnxruntime and the job's Scorer path, CUDA vs CPU.

PyFlink (330 MB of jars) cannot travel to the lent GPU machines, so this measures the two layers the
job's scoring UDF is made of: ``InterestModel.run`` (raw onnxruntime) and ``Scorer.score`` (item-id
lists → dedupe → encode → ONNX → per-row results), on sequences from the project's synthetic
generator, with the CUDA provider and, for comparison, the CPU provider on the same machine.

    python bench/gpu_inference.py --model-dir model_export/demo --out bench/results/inference_gpu.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def sequences(n_users: int) -> list[list[str]]:
    from recstream.sources.synthetic import SyntheticSpec, generate_events

    seqs: dict[str, list[str]] = {}
    for e in generate_events(SyntheticSpec(n_users=n_users, n_events=n_users * 40, bot_users=0)):
        seqs.setdefault(e["user_id"], []).append(e["item_id"])
    return [s[-50:] for s in seqs.values()]


def measure(model_dir: Path, provider: str, seqs, batch: int, rows: int) -> dict:
    import numpy as np

    from udfs.inference import Scorer

    scorer = Scorer.load(model_dir, provider, cold_start_min_events=0)
    m = scorer.model
    data = (seqs * (rows // len(seqs) + 1))[:rows]
    x = m.encode_sequences(data)
    for _ in range(3):
        m.run(x[:batch])  # warm-up (CUDA: kernel selection, arena growth)
    t0 = time.perf_counter()
    for i in range(0, rows, batch):
        m.run(x[i:i + batch])
    raw = rows / (time.perf_counter() - t0)
    counts = [len(s) for s in data]
    t0 = time.perf_counter()
    for i in range(0, rows, batch):
        scorer.score(data[i:i + batch], counts[i:i + batch])
    path = rows / (time.perf_counter() - t0)
    lat = []
    for i in range(0, min(rows, 50 * batch), batch):
        t = time.perf_counter()
        m.run(x[i:i + batch])
        lat.append(time.perf_counter() - t)
    return {"provider_requested": provider, "provider": scorer.provider, "batch_size": batch, "rows": rows,
            "raw_ort_rows_per_s": round(raw), "scorer_rows_per_s": round(path),
            "scorer_to_raw_ratio": round(path / raw, 3),
            "batch_latency_p50_ms": round(float(np.percentile(lat, 50)) * 1000, 3),
            "batch_latency_p99_ms": round(float(np.percentile(lat, 99)) * 1000, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=Path("model_export/demo"))
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1000, 4096])
    ap.add_argument("--rows", type=int, default=40_000)
    ap.add_argument("--providers", nargs="+", default=["cuda", "cpu"])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    import onnxruntime as ort

    seqs = sequences(2000)
    runs = []
    for provider in args.providers:
        for b in args.batch_sizes:
            r = measure(args.model_dir, provider, seqs, b, args.rows if provider == "cuda" else args.rows // 4)
            print(json.dumps(r), flush=True)
            runs.append(r)
    gpu = os.popen("nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader").read().strip()
    card = json.loads((args.model_dir / "model.json").read_text())
    out = {"benchmark": "inference_gpu", "device": gpu, "cpu_cores": os.cpu_count(), "python": platform.python_version(),
           "onnxruntime": ort.__version__, "model": {k: card.get(k) for k in ("version", "max_len", "dim", "n_items", "top_k")},
           "runs": runs, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "note": "no Flink on the GPU machine: raw onnxruntime and the Scorer path the job's UDF wraps"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
