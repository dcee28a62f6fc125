"""Benchmark the interest model with the SASRec protocol and write bench/results/model_<dataset>.json.

Usage (from the repo root)::

    python bench/model_bench.py ml-100k                       # /work/shared/data/ml-100k
    python bench/model_bench.py sasrec --path ml-1m.txt       # a SASRec-format file
    python bench/model_bench.py synthetic-300k                # ~300k interactions / 30k users timing

Each run trains the project's SASRec model (checkpoint under ``bench/work/``),
trains the GRU baseline and scores most-popular on the same leave-one-out split
and sampled negatives, exports the model to ONNX (plus FP16 and dynamic INT8
variants, with their accuracy change and CPU speed measured) and records the
machine.  Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_export.benchmark import results_table, run_benchmark  # noqa: E402
from model_export.data import load_dataset, sequences_from_events  # noqa: E402
from model_export.encoders import ModelConfig  # noqa: E402
from model_export.machine import machine_info  # noqa: E402
from model_export.split import leave_one_out  # noqa: E402
from model_export.train import TrainConfig, default_hparams, save_checkpoint, train_model  # noqa: E402


def load(name: str, path: str | None, seed: int):
    if name == "synthetic-300k":
        from model_export.synthetic import synthetic_events

        d = sequences_from_events(synthetic_events(seed=seed, n_users=30_000, n_items=5_000, n_events=300_000),
                                  name="synthetic-300k")
        return d
    if name == "ml-100k":
        return load_dataset("ml-100k", path or "/work/shared/data/ml-100k")
    return load_dataset("sasrec", path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=["ml-100k", "sasrec", "synthetic-300k"])
    ap.add_argument("--path")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--max-len", type=int, default=0)
    ap.add_argument("--dropout", type=float, default=-1)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--patience", type=int, default=4)
    ap.add_argument("--no-content", action="store_true")
    ap.add_argument("--no-gru", action="store_true")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--out", help="JSON path (default bench/results/model_<dataset>.json)")
    a = ap.parse_args()

    t_load = time.perf_counter()
    data = load(a.dataset, a.path, a.seed)
    load_s = time.perf_counter() - t_load
    hp = default_hparams(data)
    mcfg = ModelConfig(encoder="sasrec", max_len=a.max_len or hp["max_len"], dim=a.dim,
                       dropout=hp["dropout"] if a.dropout < 0 else a.dropout,
                       n_features=0 if a.no_content or not data.item_features else len(data.feature_names))
    tcfg = TrainConfig(epochs=a.epochs, lr=a.lr, batch_size=a.batch_size, seed=a.seed, eval_every=a.eval_every,
                       patience=a.patience)
    print(f"{data.name}: {len(data.sequences)} users, {data.n_items - 2} items, {data.n_interactions} interactions "
          f"(loaded in {load_s:.1f}s); {mcfg}")
    work = ROOT / "bench" / "work" / f"model_{data.name}"
    res = train_model(data, mcfg, tcfg, progress=True)
    save_checkpoint(res, work / "checkpoint")
    result = run_benchmark(data, mcfg, tcfg, checkpoint=str(work / "checkpoint"), with_gru=not a.no_gru)
    m = result["model"]
    m.update({"train_seconds": res.meta["train_seconds"], "best_epoch": res.meta["best_epoch"],
              "epochs_run": res.meta["epochs_run"], "history": res.meta["history"]})

    from model_export.export import export_model

    sp = leave_one_out(data.sequences)
    users = [u for u in sp.test if sp.train.get(u)][:10_000]
    card = export_model(res.model, res.meta, work / "export", top_k=a.top_k, fp16=True, int8=True,
                        eval_inputs=[sp.test_input(u) for u in users], eval_targets=[sp.test[u] for u in users])
    out = {
        "dataset": result["dataset"],
        "hr@10": m["hr@10"], "ndcg@10": m["ndcg@10"],
        "full_hr@10": m["full_hr@10"], "full_ndcg@10": m["full_ndcg@10"],
        "coverage@10": m["coverage@10"], "diversity@10": m["diversity@10"],
        "ild@10": m.get("ild@10"),
        "train_seconds": m["train_seconds"],
        "baselines": result["baselines"],
        "model": m,
        "export": {"parity": card["parity"], "variants": card["variants"], "top_k": card["top_k"]},
        "data": {k: result[k] for k in ("n_users", "n_items", "n_interactions", "data_hash")},
        "protocol": result["protocol"],
        "loss": tcfg.loss,
        "machine": machine_info(),
        "command": " ".join(sys.argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    from rich.console import Console

    Console().print(results_table(result))
    path = Path(a.out) if a.out else ROOT / "bench" / "results" / f"model_{data.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
