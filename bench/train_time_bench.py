"""Training time and quality of the interest model with default settings on the Amazon S3-Rec files.

    recstream bench train-time [--datasets Sports_and_Outdoors,Beauty,Toys_and_Games] [--ce-epochs 20]
                               [--ml100k] [--data-dir ../shared/data/amazon-s3rec]

For each data set, runs ``recstream train --data s3rec --path FILE`` exactly as a user would
(default model, loss, epochs, early stopping) in a subprocess and times the whole command; then
the same command with ``--loss ce`` (full softmax) for a fixed epoch budget (``--ce-epochs``,
0 = skip), on the same split and the same evaluation negatives.  ``--ml100k`` adds ML-100K with
``--loss sampled`` and ``--loss ce`` (both early-stopped; auto picks ce there).  ``--onnx`` exports
each default model (FP32, FP16, INT8) and evaluates the PyTorch model and every ONNX variant on the
same test users and negatives (``recstream export --fp16 --int8 --data ...``).
Writes ``bench/results/train_time.json``: per run ``n_users, n_items, n_interactions, loss, wall_s,
seconds_per_epoch, epochs, best_epoch, test {hr@10, ndcg@10, full_hr@10, full_ndcg@10}`` with
standard errors over users, the load average sampled during the run, and per data set the
sampled-vs-CE comparison.  Runs already in the file for other data sets are kept.
Target: the default run under 30 minutes wall on the 2-core box.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.machine import machine_info  # noqa: E402

TARGET_S = 30 * 60
METRICS = ("hr@10", "ndcg@10", "full_hr@10", "full_ndcg@10")
DEFAULT_DIR = REPO.parent / "shared" / "data" / "amazon-s3rec"


class LoadSampler:
    """1-minute load average every ``every`` seconds while a run lasts (other work shares the box)."""

    def __init__(self, every: float = 15.0):
        self.every, self.samples, self._stop = every, [], threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    def summary(self) -> dict:
        s = self.samples or [0.0]
        return {"mean_1min": round(sum(s) / len(s), 2), "max_1min": round(max(s), 2), "samples": len(s)}


def run_train(args: list[str], log_path: Path, data_args: list[str] | None = None) -> dict:
    """Run ``recstream train ARGS`` (stdout to ``log_path``), return the run's figures.

    With ``data_args`` the checkpoint is also exported and evaluated as ONNX (see ``--onnx``)."""
    with tempfile.TemporaryDirectory(prefix="recstream-train-time-") as tmp:
        ckpt = Path(tmp) / "ckpt"
        cmd = [sys.executable, "-m", "recstream", "train", *args, "--out", str(ckpt)]
        print("recstream train " + " ".join(args), flush=True)
        t0 = time.perf_counter()
        with LoadSampler() as load, open(log_path, "w") as logf:
            proc = subprocess.run(cmd, cwd=REPO, stdout=logf, stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"recstream train failed ({proc.returncode}); log: {log_path}")
        meta = json.loads((ckpt / "meta.json").read_text())
        onnx = export_and_evaluate(ckpt, Path(tmp) / "export", data_args, log_path) if data_args else None
    secs = sorted(meta["epoch_seconds"])
    m = meta["metrics"]
    return {
        "command": "recstream train " + " ".join(args),
        "n_users": meta["n_users"],
        "n_items": len(meta["item_ids"]) - 2,
        "n_interactions": meta["n_interactions"],
        "loss": meta["loss"],
        "n_negatives": meta["train"]["n_negatives"] if meta["loss"] == "sampled" else None,
        "wall_s": round(wall, 1),
        "train_seconds": meta["train_seconds"],
        "seconds_per_epoch": secs[len(secs) // 2],
        "epochs": meta["epochs_run"],
        "best_epoch": meta["best_epoch"],
        "meets_30min_target": wall < TARGET_S,
        "test": {k: round(m[k], 4) for k in METRICS},
        "test_se": {k: round(m[k + "_se"], 4) for k in METRICS},
        "eval_users": m["n_users"],
        "valid_history": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in h.items()}
                          for h in meta["history"]],
        "model": meta["model"],
        "train_config": meta["train"],
        "device": meta["device"],
        "load_average": load.summary(),
        "log": str(log_path),
        **({"onnx_evaluation": onnx} if onnx else {}),
    }


def export_and_evaluate(ckpt: Path, out: Path, data_args: list[str], log_path: Path) -> dict:
    """``recstream export --fp16 --int8 --data ...``: the card's side-by-side evaluation and variant speeds."""
    cmd = [sys.executable, "-m", "recstream", "export", "--checkpoint", str(ckpt), "--out", str(out), "--fp16",
           "--int8", *data_args]
    with open(log_path.with_suffix(".export.log"), "w") as logf:
        proc = subprocess.run(cmd, cwd=REPO, stdout=logf, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"recstream export failed ({proc.returncode}); log: {log_path.with_suffix('.export.log')}")
    card = json.loads((out / "model.json").read_text())
    keep = ("size_bytes", "cpu_ms_batch1", "fp32_cpu_ms_batch1", "cpu_ms_batch64", "fp32_cpu_ms_batch64",
            "topk_overlap_vs_fp32", "cpu_error")
    return {
        "metrics": {name: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()
                           if k in (*METRICS, "n_users", "error")} for name, m in card["evaluation"].items()},
        "variants": {name: {k: v for k, v in m.items() if k in keep} for name, m in card["variants"].items()},
        "fp32_size_bytes": (out / "model.onnx").stat().st_size,
    }


def compare(sampled: dict, ce: dict) -> dict:
    """Sampled vs CE per metric: difference, both SEs, and whether sampled >= CE - SE(CE)."""
    out = {}
    for k in METRICS:
        s, c = sampled["test"][k], ce["test"][k]
        out[k] = {"sampled": s, "ce": c, "diff": round(s - c, 4), "sampled_se": sampled["test_se"][k],
                  "ce_se": ce["test_se"][k], "sampled_within_1se_or_better": s >= c - ce["test_se"][k]}
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="Sports_and_Outdoors", help="comma-separated file stems in --data-dir")
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--ce-epochs", type=int, default=20, help="full-CE epoch budget for comparison (0 = skip)")
    ap.add_argument("--ml100k", action="store_true", help="also ML-100K with --loss sampled and --loss ce")
    ap.add_argument("--ml100k-path", type=Path, default=REPO.parent / "shared" / "data" / "ml-100k")
    ap.add_argument("--onnx", action="store_true", help="export each default model and evaluate its ONNX variants")
    ap.add_argument("--logs", type=Path, default=Path(tempfile.gettempdir()) / "recstream-train-time-logs")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "train_time.json")
    args = ap.parse_args(argv)
    args.logs.mkdir(parents=True, exist_ok=True)
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    runs = old.get("runs", {}) if old.get("benchmark") == "train_time" and "runs" in old else {}
    for name in [n for n in args.datasets.split(",") if n]:
        path = args.data_dir / f"{name}.txt"
        if not path.exists():
            raise SystemExit(f"{path}: not found (see --data-dir)")
        data_args = ["--data", "s3rec", "--path", str(path)]
        entry = {"file": path.name, "default": run_train(data_args, args.logs / f"{name}-default.log",
                                                         data_args if args.onnx else None)}
        if args.ce_epochs:
            entry["ce_fixed_budget"] = run_train(["--data", "s3rec", "--path", str(path), "--loss", "ce", "--epochs",
                                                  str(args.ce_epochs)], args.logs / f"{name}-ce.log")
            if entry["default"]["loss"] == "sampled":
                entry["sampled_vs_ce"] = compare(entry["default"], entry["ce_fixed_budget"])
        runs[name] = entry
        _write(args.out, runs)
    if args.ml100k:
        base = ["--data", "ml-100k", "--path", str(args.ml100k_path)]
        entry = {"sampled": run_train([*base, "--loss", "sampled"], args.logs / "ml-100k-sampled.log"),
                 "ce": run_train([*base, "--loss", "ce"], args.logs / "ml-100k-ce.log")}
        entry["sampled_vs_ce"] = compare(entry["sampled"], entry["ce"])
        runs["ml-100k"] = entry
    out = _write(args.out, runs)
    for name, e in runs.items():
        d = e.get("default") or e.get("sampled")
        print(f"{name}: {d['loss']} wall {d['wall_s']:.0f} s, {d['seconds_per_epoch']:.1f} s/epoch, best epoch "
              f"{d['best_epoch']} of {d['epochs']}; test HR@10 {d['test']['hr@10']:.4f} NDCG@10 "
              f"{d['test']['ndcg@10']:.4f} full HR@10 {d['test']['full_hr@10']:.4f}")
    print(f"wrote {args.out}")
    return out


def _write(path: Path, runs: dict) -> dict:
    out = {"benchmark": "train_time", "target_wall_s": TARGET_S, "runs": runs, "machine": machine_info(),
           "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
