"""Throughput at real-world cardinality: many users, most of them seen at most once per micro-batch.

    recstream bench cardinality [--users 100000 1000000] [--events 2000000] [--layouts local,2x1]
                                [--repeats 1] [--latency-seconds 20] [--skip-latency]
                                [--rocksdb-users 1000000 ...] [--model-dir DIR]
    recstream bench cardinality --rocksdb-only --rocksdb-users 1000000 3000000   # add the RocksDB part to the file
    (or python bench/cardinality_bench.py ...)

Workload: the synthetic source with ``user_dist=uniform`` (each event's user drawn uniformly from
``--users``; sessions, Zipf items, late and malformed payloads as usual), written once per user
count and read by every stage, so all of them see the same events. The JSON records how thin the
traffic is: the share of events whose user already appeared among the previous events of the
same window of ``--window-events`` lines (about one micro-batch at 20k events/s).

Per user count, side by side in one run, with scoring off and on:

- ``events_per_s``: the job, every default feature + the SQLite store (+ the interest model when
  scoring is on), per layout: ``local`` is the local mini-cluster (``recstream run``), ``TxS`` a
  standalone cluster of T TaskManagers with S slots (``2x1`` is the ``recstream cluster start``
  default the README recommends). Steady state: the marginal rate between a run on the first half
  of each replay part and a run on all of it (job net runtime locally, REST duration on a
  cluster), so JVM / Python start-up and the last batch's delay cancel; median of ``--repeats``
  pairs. Every line is accounted for (applied + dead letters) in every run.
- ``plain_events_per_s``: the same work in one plain Python process (``bench/plain_pipeline.py``
  ``run_plain``: same feature code, model, batch size and store).
- ``inmemory_events_per_s``: the fold of the same events into live ``UserState`` objects with the
  job's feature parts (``run_inmemory``; payloads parsed and validated beforehand, that rate kept
  apart in ``details``): no rendering, no items, no store, no model, no Flink: the ceiling.
  ``details`` also has it for the core features alone (windows, decayed interest, last-N,
  sessions, counts: interactions and anomaly off), ``core_only_events_per_s``.
- ``scored_rows_per_s``: model-scored rows (cold-start rows excluded) per second, marginal like
  the events; ``raw_ort_rows_per_s``: the model alone on the users' sequences at
  ``model.batch_size`` (``bench/inference_bench.py raw_ort``). Scoring runs with
  ``model.cold_start_min_events=1``, so every touched user goes through the model as a user with
  history would (with the default of 3, most users of this traffic get the cheap popularity list).
- ``score_staleness_p50_s`` / ``_p99_s``: from the run's counters when the job exports them
  (``score_staleness_p50_ms`` / ``_p99_ms`` per subtask, the largest taken), else null.

``latency``: the full default job (scoring on) fed by Flink's datagen over the largest user count
(uniform users), its live maximum searched from the bounded maximum (``bench.jobs.live_max_rate``),
then one live run at 50% of it: p50/p99 from an event's micro-batch window to its user's stored
row. ``state_bytes_median``: ``UserState`` as the job stores it, median over the ML-100K users at
N=50 (``bench/state_size.py``; over the workload's users when ML-100K is absent).
``--rocksdb-users``: the job with the RocksDB state backend on datagen traffic over each user count
(``--rocksdb-events`` events each), the distinct users it held and the JVM's peak memory; with
``--rocksdb-only`` that part alone, recorded in the existing results file beside the other results.

Writes ``bench/results/cardinality.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.jobs import file_run, gen_run, live_max_rate, marginal_rate  # noqa: E402
from bench.machine import machine_info  # noqa: E402

ML = REPO.parent / "shared/data/ml-100k"
RESULTS = REPO / "bench" / "results"
TARGETS = {"events_per_s": 20_000, "ratio_to_inmemory": 0.3, "scoring_ingest_ratio": 0.8,
           "scorer_to_raw_ort": 0.8, "latency_p99_s": 1.0, "state_bytes_median": 1536}
CORE_ONLY = ["features.interactions.enabled=false", "features.anomaly.enabled=false"]
SCORING = {False: ["model.enabled=false"], True: ["model.enabled=true", "model.cold_start_min_events=1"]}


def rocksdb_runs(work: Path, args, model: list[str], log) -> list[dict]:
    """The job (scoring off) with the RocksDB state backend on datagen traffic over each of
    ``args.rocksdb_users`` users: the distinct users it wrote and the JVM's peak resident memory."""
    out = []
    for u in args.rocksdb_users:
        n = args.rocksdb_events or u
        r = gen_run(work, f"rocksdb-{u}", [*model, *SCORING[False], "checkpoint.state_backend=rocksdb"],
                    10_000_000, n, u, bounded=True, parallelism=args.parallelism)
        out.append({"users_range": u, "events": n, "users_held": r["users_updated"],
                    "users_held_estimated": r["users_updated_estimated"],
                    "jvm_peak_rss_mib": r["jvm_peak_rss_mib"], "net_runtime_s": r["net_runtime_s"],
                    "events_per_s": round(n / r["net_runtime_s"])})
        log(f"rocksdb: {r['users_updated']:,} users held, JVM peak {r['jvm_peak_rss_mib']} MiB")
    return out


def rocksdb_only(args, model: list[str], log) -> dict:
    """Run only the RocksDB part and record it in the existing results file (``rocksdb``, with its
    own ``rocksdb_code`` / ``rocksdb_created`` / ``rocksdb_load_avg``), leaving the other results as
    they were measured."""
    if not args.rocksdb_users:
        raise SystemExit("--rocksdb-only needs --rocksdb-users")
    if not args.out.exists():
        raise SystemExit(f"--rocksdb-only adds to {args.out}, which does not exist: run the bench first")
    result = json.loads(args.out.read_text())
    start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="recstream-cardinality-rocksdb-") as tmp:
        runs = rocksdb_runs(Path(tmp), args, model, log)
    result.update(rocksdb=runs, rocksdb_code=code_version(), rocksdb_created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  rocksdb_load_avg={"start": start, "end": os.getloadavg()})
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    log(f"wrote {args.out} (rocksdb part)")
    return result


def code_version() -> dict:
    """The commit the job ran from (and whether the tree had uncommitted changes), or what
    ``RECSTREAM_BENCH_COMMIT`` says for an exported tree without git metadata."""
    import subprocess

    if os.environ.get("RECSTREAM_BENCH_COMMIT"):
        return {"commit": os.environ["RECSTREAM_BENCH_COMMIT"], "dirty": None}
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": bool(dirty)}


def workload_lines(users: int, events: int, seed: int = 7) -> list[str]:
    """The benchmark's traffic: ``events`` raw payloads over ``users`` uniformly drawn users."""
    from recstream.sources.synthetic import SyntheticSpec, replay_lines

    return list(replay_lines(SyntheticSpec(seed=seed, n_users=users, n_events=events, user_dist="uniform")))


def user_of(line: str) -> str | None:
    try:
        user = json.loads(line).get("user_id")
    except (ValueError, AttributeError):
        return None
    return str(user) if user is not None else None


def workload_stats(lines: list[str], window: int) -> dict:
    """Distinct users, and the share of events whose user already had an event earlier in the
    same window of ``window`` consecutive lines (0: every event of a batch is another user's)."""
    users = [user_of(x) for x in lines]
    repeats = 0
    for start in range(0, len(users), window):
        chunk = [u for u in users[start:start + window] if u is not None]
        repeats += len(chunk) - len(set(chunk))
    known = [u for u in users if u is not None]
    return {"lines": len(lines), "distinct_users": len(set(known)), "window_events": window,
            "repeat_user_fraction_in_window": round(repeats / max(len(known), 1), 4)}


def write_parts(lines: list[str], out: Path, parts: int) -> tuple[tuple[Path, int], tuple[Path, int]]:
    """``lines`` split by user into ``parts`` files (each user's events in one part, in order) under
    ``out/full``, and the first half of each part under ``out/half``. Returns (path, lines) of both."""
    from recstream.replay import partition_of

    split: list[list[str]] = [[] for _ in range(parts)]
    for line in lines:
        split[partition_of(line, parts)].append(line)
    result = []
    for name, cut in (("half", lambda p: p[:len(p) // 2]), ("full", lambda p: p)):
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        n = 0
        for i, part in enumerate(split):
            chosen = cut(part)
            (d / f"part-{i:05d}.jsonl").write_text("".join(x + "\n" for x in chosen), encoding="utf-8")
            n += len(chosen)
        result.append((d, n))
    return result[0], result[1]


def pair_figures(small: dict, large: dict, seconds: str) -> dict:
    """Steady-state rates of one (half, full) pair of runs: events, scored rows and feature rows per
    second between them. A pair whose full run was not the longer one measured noise, not the job:
    its rates are None and ``valid`` False (more events per run fix that)."""
    dt = large[seconds] - small[seconds]
    if dt <= 0:
        return {"events_per_s": None, "scored_rows_per_s": None, "feature_rows_per_s": None, "valid": False}

    def per_s(key: str) -> float | None:
        a, b = small.get(key), large.get(key)
        return None if a is None or b is None else (b - a) / dt

    return {"events_per_s": marginal_rate(small, large, seconds), "scored_rows_per_s": per_s("model_rows"),
            "feature_rows_per_s": per_s("feature_rows"), "valid": True}


def model_rows(run: dict) -> int | None:
    """Rows the model scored in a run (scored rows less the popularity-list cold starts)."""
    if run.get("scored_rows") is None:
        return None
    return run["scored_rows"] - (run.get("cold_start_rows") or 0)


def make_row(users: int, scoring: bool, layout: str, pairs: list[dict], runs: list[dict], inmemory: dict,
             plain: dict, raw_ort_rows_per_s: float | None) -> dict:
    """One ``runs`` entry: the median valid pair (by events/s) of a layout, beside the references
    (rates None when no pair was valid)."""
    valid = sorted((p for p in pairs if p["valid"]), key=lambda p: p["events_per_s"])
    best = valid[(len(valid) - 1) // 2] if valid else {"events_per_s": None, "scored_rows_per_s": None}
    full = runs[-1]
    rate = best["events_per_s"]
    return {
        "users": users, "events": full["events"], "scoring": scoring, "layout": layout,
        "events_per_s": round(rate) if rate else None, "inmemory_events_per_s": round(inmemory["events_per_s"]),
        "plain_events_per_s": round(plain["events_per_s"]),
        "ratio_to_inmemory": round(rate / inmemory["events_per_s"], 3) if rate else None,
        "scored_rows_per_s": round(best["scored_rows_per_s"]) if scoring and best["scored_rows_per_s"] else None,
        "raw_ort_rows_per_s": round(raw_ort_rows_per_s) if scoring and raw_ort_rows_per_s else None,
        "score_staleness_p50_s": full.get("score_staleness_p50_s") if scoring else None,
        "score_staleness_p99_s": full.get("score_staleness_p99_s") if scoring else None,
        "feature_rows": full.get("feature_rows"),
        "pair_events_per_s": [round(p["events_per_s"]) if p["valid"] else None for p in pairs], "job_runs": runs,
    }


def check_targets(runs: list[dict], latency: dict | None, state_bytes: float | None, users: int) -> dict:
    """Each target of the benchmark at ``users`` users: the measured figure and whether it is met
    (None where it was not measured). Per layout."""
    out = {}
    for layout in sorted({r["layout"] for r in runs}):
        by = {r["scoring"]: r for r in runs if r["layout"] == layout and r["users"] == users}
        off, on = by.get(False), by.get(True)
        t = {}
        if off and off["events_per_s"]:
            t["events_per_s"] = (off["events_per_s"], off["events_per_s"] >= TARGETS["events_per_s"])
            ratio = off["ratio_to_inmemory"]
            t["ratio_to_inmemory"] = (ratio, ratio >= TARGETS["ratio_to_inmemory"])
        if off and on and off["events_per_s"] and on["events_per_s"]:
            r = round(on["events_per_s"] / off["events_per_s"], 3)
            t["scoring_ingest_ratio"] = (r, r >= TARGETS["scoring_ingest_ratio"])
        if on and on["scored_rows_per_s"] and on["raw_ort_rows_per_s"]:
            r = round(on["scored_rows_per_s"] / on["raw_ort_rows_per_s"], 3)
            t["scorer_to_raw_ort"] = (r, r >= TARGETS["scorer_to_raw_ort"])
        if on:
            p99 = on["score_staleness_p99_s"]
            t["score_staleness_p99_reported"] = (p99, p99 is not None)
        out[layout] = {k: {"value": v, "met": m} for k, (v, m) in t.items()}
    common = {}
    if latency and latency.get("p99_s") is not None:
        common["latency_p99_s"] = {"value": latency["p99_s"], "met": latency["p99_s"] < TARGETS["latency_p99_s"]}
    if state_bytes is not None:
        common["state_bytes_median"] = {"value": state_bytes, "met": state_bytes <= TARGETS["state_bytes_median"]}
    return {"users": users, "targets": TARGETS, "by_layout": out, **common}


def inmemory_median(cfg, lines: list[str], repeats: int) -> tuple[dict, dict]:
    """``run_inmemory`` ``repeats`` times (a shared machine's speed drifts): the run with the median
    rate, all rates, and the states of the last run."""
    from bench.plain_pipeline import run_inmemory

    runs, states = [], None
    for _ in range(repeats):
        states = None  # the previous run's states freed first
        r = run_inmemory(cfg, lines)
        states = r.pop("states")
        runs.append(r)
    mid = dict(sorted(runs, key=lambda r: r["events_per_s"])[(len(runs) - 1) // 2])
    mid["runs_events_per_s"] = [round(r["events_per_s"]) for r in runs]
    return mid, states


def local_pairs(work: Path, half: tuple[Path, int], full: tuple[Path, int], overrides: list[str], tag: str,
                repeats: int, parallelism: int, log) -> tuple[list[dict], list[dict]]:
    pairs, runs = [], []
    for i in range(repeats):
        a = file_run(work, half[0], half[1], f"{tag}-{i}-half", overrides, parallelism)
        b = file_run(work, full[0], full[1], f"{tag}-{i}-full", overrides, parallelism)
        for r in (a, b):
            r["model_rows"] = model_rows(r)
        runs += [a, b]
        pairs.append(pair_figures(a, b, "net_runtime_s"))
        log(f"  {tag} pair {i + 1}: {pairs[-1]['events_per_s']} events/s "
            f"({a['net_runtime_s']:.1f} s / {b['net_runtime_s']:.1f} s)")
    return pairs, runs


def cluster_pairs(work: Path, layouts: list[str], half, full, overrides: list[str], tag: str, repeats: int,
                  parallelism: int, log, cluster_settings: list[str] = (),
                  warm=None) -> dict[str, tuple[list[dict], list[dict]]]:
    """``warm``: (path, lines) of the warm-up run per cluster (default: the half run's file)."""
    from bench.cluster_runs import LayoutClusters

    out: dict[str, tuple[list[dict], list[dict]]] = {name: ([], []) for name in layouts}
    with LayoutClusters(work, layouts, parallelism, overrides, cluster_settings) as clusters:
        for name in layouts:  # the TaskManagers' Python start and JIT, not counted
            clusters.run(name, *(warm or half), f"{tag}-{name}-warm")
        for i in range(repeats):
            for name in (layouts if i % 2 == 0 else layouts[::-1]):
                a = clusters.run(name, *half, f"{tag}-{name}-{i}-half")
                b = clusters.run(name, *full, f"{tag}-{name}-{i}-full")
                for r in (a, b):
                    r["model_rows"] = model_rows(r)
                out[name][1].extend([a, b])
                out[name][0].append(pair_figures(a, b, "duration_s"))
                log(f"  {tag} cluster {name} pair {i + 1}: {out[name][0][-1]['events_per_s']} events/s "
                    f"({a['duration_s']:.1f} s / {b['duration_s']:.1f} s)")
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--events", type=int, default=2_000_000, help="events per full run (the half run: about half)")
    ap.add_argument("--layouts", default="local,2x1", help="'local' and/or standalone <taskmanagers>x<slots>")
    ap.add_argument("--parallelism", type=int, default=2)
    ap.add_argument("--cluster-set", action="append", default=[], metavar="cluster.KEY=VALUE",
                    help="setting for every standalone cluster (repeatable), e.g. cluster.taskmanager_memory=6144m: "
                         "the heap state backend holds every user, and 1M users need more than the default 2048m")
    ap.add_argument("--repeats", type=int, default=1, help="(half, full) pairs per configuration; median taken")
    ap.add_argument("--window-events", type=int, default=2000)
    ap.add_argument("--inmemory-repeats", type=int, default=3, help="in-memory loop runs; median taken")
    ap.add_argument("--model-dir", type=Path, default=None, help="exported model (default: the packaged demo model)")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--latency-seconds", type=int, default=20)
    ap.add_argument("--rocksdb-users", type=int, nargs="*", default=[])
    ap.add_argument("--rocksdb-events", type=int, default=None, help="events per RocksDB run (default: its users)")
    ap.add_argument("--rocksdb-only", action="store_true",
                    help="run only the RocksDB part and add it to the existing results file")
    ap.add_argument("--ml-path", type=Path, default=ML)
    ap.add_argument("--note", default="", help="free text recorded with the results (e.g. why a size is reduced)")
    ap.add_argument("--out", type=Path, default=RESULTS / "cardinality.json")
    args = ap.parse_args(argv)
    layouts = [x.strip() for x in args.layouts.split(",") if x.strip()]
    clusters = [x for x in layouts if x != "local"]

    def log(msg: str) -> None:
        print(msg, flush=True)

    from bench.inference_bench import raw_ort
    from bench.plain_pipeline import run_plain
    from bench.state_size import state_sizes
    from recstream.config import load_config

    info = machine_info()
    loads = {"start": os.getloadavg()}
    model = [f"model.path={args.model_dir}"] if args.model_dir else []
    cfg_model = load_config(overrides=[*model, *SCORING[True]])
    if not cfg_model.model.active():
        raise SystemExit(f"no model at {cfg_model.model.path} (pass --model-dir)")
    if args.rocksdb_only:
        return rocksdb_only(args, model, log)
    rows, workloads, references, errors = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="recstream-cardinality-") as tmp:
        work = Path(tmp)
        for users in args.users:
            log(f"== {users:,} users, {args.events:,} events")
            t0 = time.perf_counter()
            lines = workload_lines(users, args.events)
            wl = workload_stats(lines, args.window_events)
            half, full = write_parts(lines, work / f"replay-{users}", args.parallelism)
            wl.update(users=users, half_run_lines=half[1], generate_s=round(time.perf_counter() - t0, 1))
            workloads.append(wl)
            log(f"  workload: {wl['distinct_users']:,} distinct users, repeat share per "
                f"{args.window_events} events {wl['repeat_user_fraction_in_window']}")
            # warm-up runs (JIT, Python start, page cache), not counted: a prefix of the traffic
            warm = write_parts(lines[:100_000], work / f"warm-{users}", args.parallelism)[1]
            if not rows and "local" in layouts:  # the local runs share this process's JVM
                for i, scoring in enumerate((False, True, False)):
                    file_run(work, *warm, f"warm-{i}", [*model, *SCORING[scoring]], args.parallelism)

            inmem, states = inmemory_median(load_config(overrides=model), lines, args.inmemory_repeats)
            log(f"  in-memory loop: {inmem['events_per_s']:.0f} events/s (of {inmem['runs_events_per_s']}; "
                f"parse apart: {inmem['parse_events_per_s']:.0f} events/s)")
            core, _ = inmemory_median(load_config(overrides=[*model, *CORE_ONLY]), lines, args.inmemory_repeats)
            inmem["core_only_events_per_s"] = core["events_per_s"]
            inmem["core_only_runs_events_per_s"] = core["runs_events_per_s"]
            log(f"  in-memory loop, core features only: {core['events_per_s']:.0f} events/s")
            seqs = [s.sequence.item_ids() for s in list(states.values())[:20_000]]
            workload_state = statistics.median(
                len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in list(states.values())[:5000])
            del states
            raw = raw_ort(cfg_model.model.path, "auto", seqs, cfg_model.model.batch_size, 40_000,
                          cfg_model.model.threads, cfg_model.model.spin)
            log(f"  raw onnxruntime: {raw['rows_per_s']:.0f} rows/s")
            ref = {"users": users, "inmemory": inmem, "raw_ort": raw, "plain": {},
                   "workload_state_bytes_median": workload_state}
            for scoring in (False, True):
                over = [*model, *SCORING[scoring]]
                plain_store = work / f"plain-{users}-{scoring}.sqlite"
                plain = run_plain(load_config(overrides=[*over, f"store.sqlite.path={plain_store}"]), lines)
                ref["plain"]["on" if scoring else "off"] = plain
                log(f"  plain Python, scoring {'on' if scoring else 'off'}: {plain['events_per_s']:.0f} events/s")
                tag = f"u{users}-{'score' if scoring else 'noscore'}"
                if "local" in layouts:
                    pairs, runs = local_pairs(work, half, full, over, tag, args.repeats, args.parallelism, log)
                    rows.append(make_row(users, scoring, "local", pairs, runs, inmem, plain, raw["rows_per_s"]))
                if clusters:
                    try:
                        by_layout = cluster_pairs(work, clusters, half, full, over, tag, args.repeats,
                                                  args.parallelism, log, args.cluster_set, warm)
                    except Exception as exc:  # recorded, and the other stages still report
                        errors.append(f"{tag} clusters {clusters}: {type(exc).__name__}: {str(exc)[:2000]}")
                        log(f"  {errors[-1]}")
                        by_layout = {}
                    for name, (pairs, runs) in by_layout.items():
                        rows.append(make_row(users, scoring, name, pairs, runs, inmem, plain, raw["rows_per_s"]))
            references.append(ref)
            del lines
            loads[f"after_{users}"] = os.getloadavg()

        latency = None
        if not args.skip_latency:
            u = max(args.users)
            gen_over = [*model, *SCORING[True], "model.max_wait_ms=50"]
            g1 = gen_run(work, "max-1", gen_over, 10_000_000, 10_000, u, bounded=True, parallelism=args.parallelism)
            g2 = gen_run(work, "max-2", gen_over, 10_000_000, 30_000, u, bounded=True, parallelism=args.parallelism)
            bounded_max = marginal_rate(g1, g2)
            log(f"latency: bounded max {bounded_max:.0f} events/s over {u:,} users")
            live_max, probes = live_max_rate(work, gen_over, u, bounded_max, args.latency_seconds, args.parallelism,
                                             log=log)
            rate = max(1, int(live_max * 0.5))
            lat = gen_run(work, "lat-50", gen_over, rate, rate * args.latency_seconds, u, bounded=False,
                          parallelism=args.parallelism)
            log(f"latency at {rate}/s (50% of live max {live_max}): p50 {lat['p50_latency_s']} s, "
                f"p99 {lat['p99_latency_s']} s")
            latency = {"users": u, "rate_events_per_s": rate, "p50_s": lat["p50_latency_s"],
                       "p99_s": lat["p99_latency_s"], "live_max_events_per_s": live_max,
                       "bounded_max_events_per_s": round(bounded_max), "layout": "local", "scoring": True,
                       "traffic": "datagen, uniform users, event types only (no categories/tags)",
                       "run": lat, "live_probes": probes, "max_runs": [g1, g2]}
            loads["after_latency"] = os.getloadavg()

        rocksdb = rocksdb_runs(work, args, model, log)

    state = None
    if (args.ml_path / "u.data").exists():
        ml_cfg = load_config(overrides=["source.kind=movielens", f"source.movielens.path={args.ml_path}"])
        from recstream.replay import source_lines

        state = state_sizes(ml_cfg, list(source_lines(ml_cfg)))
        state["over"] = "ml-100k users"
    state_median = state["bytes_median"] if state else references[-1]["workload_state_bytes_median"]
    top = max(args.users)
    result = {
        "benchmark": "cardinality",
        "runs": [{k: v for k, v in r.items() if k != "job_runs"} for r in rows],
        "latency": ({k: latency[k] for k in ("users", "rate_events_per_s", "p50_s", "p99_s")} if latency else None),
        "state_bytes_median": state_median,
        "state_bytes_median_scope": ("UserState as the job stores it, N=50, median over ML-100K users" if state
                                     else "UserState as the job stores it, N=50, median over the workload's users"),
        "targets_at_max_users": check_targets(rows, latency, state_median, top),
        "rocksdb": rocksdb or None,
        "workloads": workloads,
        "score_staleness_note": ("null: the job's run counters carry no score_staleness_p50_ms/p99_ms"
                                 if any(r["scoring"] and r["score_staleness_p99_s"] is None for r in rows) else None),
        "note": args.note,
        "errors": errors,
        "method": ("events/s: marginal rate between a run on the first half of each replay part and one on all of "
                   "it (local: job net runtime; cluster: REST duration), start-up excluded; median of "
                   f"{args.repeats} pair(s); every line accounted for. Scoring on: model.cold_start_min_events=1. "
                   "plain Python: one run per scoring setting on the same lines; in-memory loop: median of "
                   f"{args.inmemory_repeats} runs."),
        "parallelism": args.parallelism, "repeats": args.repeats, "cluster_settings": args.cluster_set,
        "details": {"references": references, "job_runs": {f"{r['users']}-{r['layout']}-{r['scoring']}": r["job_runs"]
                                                          for r in rows},
                    "latency": latency, "state": state},
        "code": code_version(),
        "machine": {**info, "load_avg": loads},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if not rocksdb and args.out.exists():  # keep the RocksDB part measured apart (--rocksdb-only), with its own dates
        previous = json.loads(args.out.read_text())
        if previous.get("rocksdb"):
            result.update({k: previous[k] for k in ("rocksdb", "rocksdb_code", "rocksdb_created", "rocksdb_load_avg")
                           if k in previous})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    for r in result["runs"]:
        log(f"{r['users']:>9,} users {r['layout']:>5} scoring {'on ' if r['scoring'] else 'off'}: "
            f"{r['events_per_s']} events/s ({r['ratio_to_inmemory']}x in-memory {r['inmemory_events_per_s']:,}; "
            f"plain {r['plain_events_per_s']:,})")
    log(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
