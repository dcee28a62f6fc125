"""Training time of the interest model with default settings on ~300k interactions / 30k users.

    python bench/train_time_bench.py [--users 30000] [--items 5000] [--events 300000]

Runs ``recstream train`` exactly as a user would (default model, loss, epochs, early stopping;
only the synthetic data size is set) in a subprocess, timing the whole command (data
generation, training, evaluation, checkpoint). Target: under 30 minutes on the
2-core box. Writes ``bench/results/train_time.json``: ``wall_seconds``, ``train_seconds``
(the trainer's own figure), ``target_seconds``, ``best_epoch``, ``epochs_run``, the test
metrics from the checkpoint's metadata, peak memory, and the machine.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.machine import machine_info  # noqa: E402

TARGET_S = 30 * 60


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=30_000)
    ap.add_argument("--items", type=int, default=5_000)
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "train_time.json")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="recstream-train-time-") as tmp:
        ckpt = Path(tmp) / "ckpt"
        cmd = [sys.executable, "-m", "recstream", "train", "--data", "synthetic", "--n-users", str(args.users),
               "--n-items", str(args.items), "--n-events", str(args.events), "--out", str(ckpt)]
        print(" ".join(cmd[2:]), flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"recstream train failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        meta = json.loads((ckpt / "meta.json").read_text())
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = {
        "benchmark": "train_time",
        "command": "recstream " + " ".join(cmd[3:-2]),
        "data": {"users": args.users, "items": args.items, "events_generated": args.events,
                 "interactions": meta["n_interactions"], "n_users": meta["n_users"]},
        "wall_seconds": round(wall, 1),
        "train_seconds": meta["train_seconds"],
        "target_seconds": TARGET_S,
        "meets_target": wall < TARGET_S,
        "best_epoch": meta["best_epoch"],
        "epochs_run": meta["epochs_run"],
        "model": meta["model"],
        "train": meta["train"],
        "device": meta["device"],
        "metrics": meta["metrics"],
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "machine": machine_info(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(f"wall {wall:.0f} s (train {meta['train_seconds']:.0f} s, target {TARGET_S} s); best epoch "
          f"{meta['best_epoch']} of {meta['epochs_run']}; test HR@10 {meta['metrics']['hr@10']:.4f}; wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
