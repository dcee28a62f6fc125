"""End-to-end benchmark: throughput, latency and state per user, side by side in one run.

    recstream bench e2e [--model-dir DIR] [--parallelism 2] [--latency-users 10000]
    (or python bench/e2e_bench.py ...)

Throughput, on the MovieLens 100K replay (marginal rate between a 1x and a 3x replay on the
job's net runtime, so JVM/Python start-up cancel; the median of ``--repeats`` such pairs, stages
alternated, since one pair moved ±35% run to run on the 2-core box), local mini-cluster, SQLite store (the
embedded default), all default features (per-user, interactions, anomaly, item path):

- ``features_events_per_s``: the feature job with its store writes, model off;
- ``local_events_per_s``: the same plus micro-batched, coalesced ONNX inference and the score rows;
- ``cluster``: the full job submitted to standalone clusters of each ``--cluster-layouts`` layout
  (``bench/cluster_runs.py``: 1x vs ``--cluster-repeat``x replays on the jobs' REST durations, layouts
  alternated); ``events_per_s`` (the headline end-to-end figure) is the first layout's, the
  ``recstream cluster start`` default of one single-slot TaskManager per core (thread mode runs a
  TaskManager's Python under one GIL), or ``local_events_per_s`` with ``--cluster-layouts ''``;
- ``plain_python_events_per_s``: the same work in one plain Python process
  (``bench/plain_pipeline.py``: same feature code, same model and batch size, same store);
- ``raw_ort_rows_per_s``: the model alone on the users' final sequences at ``model.batch_size``.

Latency: the full job fed by Flink's datagen over ``--latency-users`` distinct users; its maximum
throughput on that traffic first: the bounded maximum (arrival-time batches, as fast as it goes),
then the highest rate a live run (processing-time batches, as for a live source) keeps up with,
searched from it (``bench.jobs.live_max_rate``); then live runs at 25%, 50% and 90% of that,
p50/p99 from the start of an event's micro-batch window (its arrival at the latest) to its
user's row being stored; ``--repeats`` runs per level, interleaved, and the run with the median
p99 is reported (all runs' p50/p99 are in the JSON). Rows stored in the first 5 s are left out (JVM/Python warm-up).

State: ``UserState`` pickled as the job stores it, median over the ML-100K users at N=50,
with the bytes per part (``bench/state_size.py``).

Writes ``bench/results/e2e.json`` (overwritten by each run) and the plots beside it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.inference_bench import raw_ort  # noqa: E402
from bench.jobs import gen_run, live_max_rate, marginal_rate, ml_run  # noqa: E402
from bench.machine import machine_info  # noqa: E402

ML = REPO.parent / "shared/data/ml-100k"
RESULTS = REPO / "bench" / "results"


def ensure_model(model_dir: Path | None, ml_path: Path, work: Path, log=print, variants: bool = False) -> Path:
    """The model the benchmark scores with: ``model_dir``, or a SASRec trained here for 4 epochs on
    ML-100K (N=50, D=50, K=20; a few minutes, needs the ``train`` extra), exported with its FP16 and
    INT8 variants when ``variants``. Throughput depends on the model's shape, not on how well it is
    trained."""
    if model_dir is not None:
        return model_dir
    ckpt, out = work / "ckpt", work / "model"
    log("training a small ML-100K model for the benchmark (4 epochs)")
    subprocess.run([sys.executable, "-m", "recstream", "train", "--data", "ml-100k", "--path", str(ml_path),
                    "--max-len", "50", "--epochs", "4", "--eval-every", "4", "--out", str(ckpt)], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "recstream", "export", "--checkpoint", str(ckpt), "--out", str(out),
                    "--top-k", "20", *(["--fp16", "--int8"] if variants else [])], check=True, stdout=subprocess.DEVNULL)
    return out


def median_run(runs: list[dict], key: str = "events_per_s") -> dict:
    """The run with the median ``key`` (lower median for an even count)."""
    return sorted(runs, key=lambda r: r[key])[(len(runs) - 1) // 2]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ml-path", type=Path, default=ML)
    ap.add_argument("--model-dir", type=Path, default=None, help="exported model (default: train a small one)")
    ap.add_argument("--parallelism", type=int, default=2)
    ap.add_argument("--latency-users", type=int, default=10_000)
    ap.add_argument("--latency-seconds", type=int, default=20)
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--repeats", type=int, default=3, help="1x/3x pairs (and plain runs) per stage; median taken")
    ap.add_argument("--cluster-layouts", default="2x1,1x2",
                    help="standalone-cluster layouts <taskmanagers>x<slots> to measure ('' = none); the first "
                         "is the headline figure (the recstream cluster start default)")
    ap.add_argument("--cluster-repeat", type=int, default=5, help="the long cluster replay (vs 1x), times ML-100K")
    ap.add_argument("--cluster-set", action="append", default=[], metavar="KEY=VALUE",
                    help="cluster.* setting for every layout's cluster, e.g. cluster.taskmanager_memory=4096m")
    ap.add_argument("--out", type=Path, default=RESULTS / "e2e.json")
    args = ap.parse_args(argv)
    if not (args.ml_path / "u.data").exists():
        ap.error(f"{args.ml_path}: MovieLens 100K not found (u.data); pass --ml-path")
    info = machine_info()
    from recstream.config import load_config
    from recstream.replay import write_replay_file

    from bench.plain_pipeline import run_plain
    from bench.state_size import state_sizes

    with tempfile.TemporaryDirectory(prefix="recstream-e2e-") as tmp:
        work = Path(tmp)
        model_dir = ensure_model(args.model_dir, args.ml_path, work)
        model = [f"model.path={model_dir}", "model.enabled=true"]
        ml = ["source.kind=movielens", f"source.movielens.path={args.ml_path}"]
        cfg = load_config(overrides=[*ml, *model, f"store.sqlite.path={work / 'plain.sqlite'}"])
        replay = work / "ml100k.jsonl"
        write_replay_file(cfg, replay)
        lines = replay.read_text().splitlines()

        plain_cfg_f = load_config(overrides=[*ml, "model.enabled=false", f"store.sqlite.path={work / 'plain-f.sqlite'}"])
        plain_runs = {"with_inference": [], "features_only": []}
        for _ in range(args.repeats):  # alternated, median taken: this box's speed drifts within minutes
            plain_runs["with_inference"].append(run_plain(cfg, lines))
            plain_runs["features_only"].append(run_plain(plain_cfg_f, lines))
        plain = median_run(plain_runs["with_inference"])
        plain_feat = median_run(plain_runs["features_only"])
        print(f"plain python (features + inference + store): {plain['events_per_s']:.0f} events/s "
              f"(median of {[round(r['events_per_s']) for r in plain_runs['with_inference']]})", flush=True)
        print(f"plain python (features + store): {plain_feat['events_per_s']:.0f} events/s "
              f"(median of {[round(r['events_per_s']) for r in plain_runs['features_only']]})", flush=True)
        state = state_sizes(cfg, lines)
        print(f"state per user (N={state['sequence_length']}): median {state['bytes_median']} B", flush=True)

        from udfs.features.batch import fold_raw

        states, _, _ = fold_raw(lines, cfg.features.params())
        raw = raw_ort(model_dir, "auto", [s.sequence.item_ids() for s in states.values()], cfg.model.batch_size,
                      40_000, cfg.model.threads, cfg.model.spin)
        print(f"raw onnxruntime: {raw['rows_per_s']:.0f} rows/s at batch {raw['batch_size']}", flush=True)

        # warm-up job (JIT, page cache), not counted
        ml_run(work, args.ml_path, 1, args.parallelism, ["model.enabled=false"], "warm")
        stages = {"features": ["model.enabled=false"], "features+inference": model}
        runs, pair_rates = [], {name: [] for name in stages}
        for i in range(args.repeats):  # stages alternated, the median pair taken (noise)
            for name, over in stages.items():
                r1 = ml_run(work, args.ml_path, 1, args.parallelism, over, f"{name}-{i}")
                r3 = ml_run(work, args.ml_path, 3, args.parallelism, over, f"{name}-{i}")
                runs += [r1, r3]
                pair_rates[name].append(marginal_rate(r1, r3))
                print(f"job {name} pair {i + 1}: {pair_rates[name][-1]:.0f} events/s "
                      f"({r1['net_runtime_s']:.1f} s / {r3['net_runtime_s']:.1f} s)", flush=True)
        rates = {name: statistics.median(v) for name, v in pair_rates.items()}
        for name, rate in rates.items():
            print(f"job {name}: median {rate:.0f} events/s", flush=True)

        cluster = {}
        layouts = [x for x in args.cluster_layouts.split(",") if x]
        if layouts:
            from bench.cluster_runs import layout_rates

            replays = {}
            for rep in (1, args.cluster_repeat):
                path = work / f"cluster-replay-r{rep}"
                rep_cfg = load_config(overrides=[*ml, f"source.movielens.repeat={rep}"])
                replays[rep] = (path, write_replay_file(rep_cfg, path, partitions=args.parallelism))
            cluster = layout_rates(work, layouts, replays, args.parallelism, model, args.repeats,
                                   log=lambda m: print(m, flush=True), cluster_extra=args.cluster_set)
            for name, res in cluster.items():
                print(f"cluster {name}: median {res['events_per_s']} events/s", flush=True)

        latency = {}
        if not args.skip_latency:
            gen_model = [*model, "model.max_wait_ms=50"]
            u = args.latency_users
            g1 = gen_run(work, "max-1", gen_model, 10_000_000, 10_000, u, bounded=True, parallelism=args.parallelism)
            g2 = gen_run(work, "max-2", gen_model, 10_000_000, 30_000, u, bounded=True, parallelism=args.parallelism)
            bounded_max = marginal_rate(g1, g2)
            print(f"generated traffic over {u} users, bounded max throughput {bounded_max:.0f} events/s", flush=True)
            max_rate, probes = live_max_rate(work, gen_model, u, bounded_max, args.latency_seconds,
                                             args.parallelism, log=lambda m: print(m, flush=True))
            print(f"live max throughput (keeps up) {max_rate} events/s", flush=True)
            fracs = (0.25, 0.5, 0.9)
            by_frac: dict[float, list[dict]] = {f: [] for f in fracs}
            for i in range(args.repeats):  # levels interleaved; per level the run with the median p99 is kept
                for frac in fracs:
                    rate = max(1, int(max_rate * frac))
                    lat = gen_run(work, f"lat-{int(frac * 100)}-{i}", gen_model, rate, rate * args.latency_seconds,
                                  u, bounded=False, parallelism=args.parallelism)
                    by_frac[frac].append(lat)
                    print(f"  {int(frac * 100)}% ({rate}/s) run {i + 1}: p50 {lat['p50_latency_s']} s, "
                          f"p99 {lat['p99_latency_s']} s", flush=True)
            levels = []
            for frac in fracs:
                lat = dict(median_run(by_frac[frac], "p99_latency_s"))
                lat.update(fraction_of_max=frac, p99_latency_s_runs=[r["p99_latency_s"] for r in by_frac[frac]],
                           p50_latency_s_runs=[r["p50_latency_s"] for r in by_frac[frac]])
                levels.append(lat)
                print(f"  {int(frac * 100)}%: median-p99 run p50 {lat['p50_latency_s']} s, p99 {lat['p99_latency_s']} s",
                      flush=True)
            latency = {"users": u, "max_events_per_s": round(max_rate),
                       "max_method": "highest live (processing-time) rate that keeps up, searched from the "
                                     "bounded maximum in 1.25x steps (bench/jobs.py live_max_rate)",
                       "bounded_max_events_per_s": round(bounded_max), "max_runs": [g1, g2], "live_probes": probes,
                       "levels": levels}

    local = rates["features+inference"]
    e2e = cluster[layouts[0]]["events_per_s"] if cluster else local
    scope = "all default features + coalesced ONNX inference + SQLite store"
    result = {
        "benchmark": "e2e",
        "dataset": "ml-100k replay (1x and 3x, time-shifted; cluster: 1x and "
                   f"{args.cluster_repeat}x); latency: datagen",
        "events_per_s": round(e2e),
        "events_per_s_scope": (f"{scope}; standalone cluster {layouts[0]} (TaskManagers x slots), parallelism "
                               f"{args.parallelism}" if cluster else f"{scope}; local mini-cluster"),
        "local_events_per_s": round(local),
        "local_ratio_to_plain_python": round(local / plain["events_per_s"], 3),
        "cluster": cluster,
        "cluster_settings": args.cluster_set,
        "features_events_per_s": round(rates["features"]),
        "plain_python_events_per_s": round(plain["events_per_s"]),
        "ratio_to_plain_python": round(e2e / plain["events_per_s"], 3),
        "plain_python_features_events_per_s": round(plain_feat["events_per_s"]),
        "raw_ort_rows_per_s": round(raw["rows_per_s"]),
        "raw_ort": raw,
        "target_events_per_s": 20_000,
        "parallelism": args.parallelism,
        "p50_latency_s": None, "p99_latency_s": None,
        "state_bytes_per_user": state["bytes_median"],
        "state": state,
        "plain_python": {"with_inference": plain, "features_only": plain_feat, "runs": plain_runs},
        "runs": runs,
        "pair_rates_events_per_s": {k: [round(x) for x in v] for k, v in pair_rates.items()},
        "method": (f"local: marginal rate between 1x and 3x replays on job net runtime (excludes JVM/Python "
                   f"start-up), median of {args.repeats} pairs with the stages alternated; cluster: marginal rate "
                   f"between 1x and {args.cluster_repeat}x replays on the jobs' REST durations, median of "
                   f"{args.repeats} pairs per layout, layouts alternated (bench/cluster_runs.py); plain Python: "
                   f"median of {args.repeats} runs"),
        "machine": info,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if latency:
        half = next(lv for lv in latency["levels"] if lv["fraction_of_max"] == 0.5)
        result.update(p50_latency_s=half["p50_latency_s"], p99_latency_s=half["p99_latency_s"], latency=latency)
    from bench.report import plot_e2e, save_result

    save_result(result, args.out, plot_e2e)
    print(json.dumps({k: result[k] for k in ("events_per_s", "features_events_per_s", "plain_python_events_per_s",
                                              "ratio_to_plain_python", "p50_latency_s", "p99_latency_s",
                                              "state_bytes_per_user")}))
    return result


if __name__ == "__main__":
    main()
