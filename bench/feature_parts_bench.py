"""Per-event Python cost of the framework-free feature folds (no Flink).

Folds the seeded synthetic stream (default spec: 500 users, ~19.8k events, 3 bots)
and the ML-100K ratings (when present) through each fold on its own, keyed as in
the job (per user; items per item), and reports µs per event (best of ``--repeat``)
plus the pickled size of the per-key states. Writes ``bench/results/feature_parts.json``.

    python bench/feature_parts_bench.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import time
from pathlib import Path

import numpy as np

from recstream.sources.synthetic import generate_events
from udfs.features.anomaly import AnomalyParams, PopulationStats, UserAnomaly
from udfs.features.content_interest import ContentInterest, ContentParams
from udfs.features.interactions import InteractionParams, UserInteractions
from udfs.features.items import ItemParams, ItemState
from udfs.features.params import FeatureParams
from udfs.features.user_state import UserState

REPO = Path(__file__).resolve().parents[1]
ML100K = REPO.parent / "shared" / "data" / "ml-100k"


def _time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench(events: list[dict], repeat: int) -> dict:
    fp, ip, itp, ap, cp = FeatureParams(), InteractionParams(), ItemParams(), AnomalyParams(), ContentParams()
    rng = np.random.default_rng(0)
    emb = {i: (v / np.linalg.norm(v)).astype(np.float32)
           for i, v in ((e["item_id"], rng.standard_normal(384)) for e in events)}
    out: dict = {}

    def keyed(make, step, key="user_id"):
        def run():
            states = {}
            for e in events:
                s = states.get(e[key])
                if s is None:
                    s = states[e[key]] = make()
                step(s, e)
            return states
        return run

    pop = PopulationStats.for_params(ap)
    folds = {
        "user_state (existing)": (keyed(lambda: UserState(fp), lambda s, e: s.apply(e, fp)), "user_id"),
        "interactions": (keyed(UserInteractions, lambda s, e: s.apply(e, ip)), "user_id"),
        "anomaly": (keyed(UserAnomaly, lambda s, e: s.apply(e, ap, pop)), "user_id"),
        "content_interest": (keyed(ContentInterest, lambda s, e: s.apply(e, emb, cp)), "user_id"),
        "items": (keyed(lambda: ItemState(itp), lambda s, e: s.apply(e, itp), key="item_id"), "item_id"),
    }
    for name, (run, _) in folds.items():
        secs = _time(run, repeat)
        states = run()
        sizes = [len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in states.values()]
        out[name] = {"us_per_event": round(secs / len(events) * 1e6, 2), "keys": len(states),
                     "pickled_bytes_median": int(statistics.median(sizes)), "pickled_bytes_max": max(sizes)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    results = {"load_avg_at_start": os.getloadavg()[0], "synthetic": bench(generate_events(), args.repeat)}
    if (ML100K / "u.data").exists():
        from recstream.sources.movielens import load_events

        results["ml-100k"] = bench(load_events(ML100K), args.repeat)
    print(json.dumps(results, indent=2))
    out = REPO / "bench" / "results" / "feature_parts.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
