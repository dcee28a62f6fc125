"""Inference rows/s by batch size, FP32 vs FP16 vs INT8, on CPU (and on GPU when one is present).

    recstream bench model [--model-dir DIR] [--batch-sizes 1 16 64 256 1024 4096] [--provider auto]

Runs each exported variant (``model.onnx``, ``model.fp16.onnx``, ``model.int8.onnx``: written by
``recstream export --fp16 --int8``) with the session settings the job uses (no thread-pool
spinning), on fixed random sequences, best of 3 timed passes of at least 1 s. The accuracy
change of each variant is the one ``recstream export`` measured and wrote into the model card.
Writes ``bench/results/model_speed.json`` and ``model_speed.png``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.machine import machine_info  # noqa: E402

VARIANTS = {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8.onnx"}


def rows_per_s(model, batch: int, min_s: float = 1.0) -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.integers(2, model.n_items, (batch, model.max_len)).astype(np.int64)
    model.run(x)
    best = 0.0
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < min_s:
            model.run(x)
            n += batch
        best = max(best, n / (time.perf_counter() - t0))
    return best


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=None, help="export with model.fp16.onnx / model.int8.onnx")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64, 256, 1024, 4096])
    ap.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads (default: onnxruntime's)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "model_speed.json")
    args = ap.parse_args(argv)
    from model_export.runtime import InterestModel
    from udfs.inference import select_providers

    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="recstream-model-") as tmp:
        from bench.e2e_bench import ML, ensure_model

        model_dir = ensure_model(args.model_dir, ML, Path(tmp), variants=True)
        card = json.loads((model_dir / "model.json").read_text())
        by_variant, provider = {}, None
        for name, file in VARIANTS.items():
            if not (model_dir / file).exists():
                print(f"{name}: {file} not in {model_dir}, skipped", flush=True)
                continue
            m = InterestModel.load(model_dir, providers=select_providers(args.provider), model_file=file,
                                   threads=args.threads)
            provider = m.providers[0]
            rows = []
            for b in args.batch_sizes:
                r = rows_per_s(m, b)
                rows.append({"batch_size": b, "rows_per_s": round(r), "ms_per_batch": round(b / r * 1000, 3)})
                print(f"{name} batch {b}: {r:,.0f} rows/s", flush=True)
            by_variant[name] = rows
    accuracy = {k: card[k] for k in ("fp16", "int8", "variants", "quantized") if k in card}
    device = info["cpu"]
    if provider and provider.startswith("CUDA"):
        from bench.inference_bench import gpu_name

        device = gpu_name()
    result = {"benchmark": "model_speed", "provider": provider, "device": device,
              "model": {k: card.get(k) for k in ("encoder", "max_len", "dim", "n_items", "top_k", "opset")},
              "by_variant": by_variant, "accuracy_vs_fp32": accuracy,
              "speedup_vs_fp32_at_largest_batch": {
                  k: round(v[-1]["rows_per_s"] / by_variant["fp32"][-1]["rows_per_s"], 3)
                  for k, v in by_variant.items()} if "fp32" in by_variant else {},
              "machine": info, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    from bench.report import plot_model, save_result

    save_result(result, args.out, plot_model)
    return result


if __name__ == "__main__":
    main()
