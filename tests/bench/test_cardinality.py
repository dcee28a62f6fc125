"""The cardinality benchmark's harness: its traffic is thin (most users once per window), its
replay parts keep each user's events together and in order, the steady-state figures come from
the difference of two runs, the in-memory ceiling folds the same events as the reference, and
the result rows carry the keys and target verdicts the benchmark promises."""
import json

import pytest

from bench.cardinality_bench import (TARGETS, check_targets, main, make_row, model_rows, pair_figures,
                                     workload_lines, workload_stats, write_parts)
from bench.jobs import largest_over_subtasks, staleness_s
from bench.plain_pipeline import run_inmemory
from recstream.config import load_config
from udfs.features.batch import fold_with_items
from udfs.features.runtime import FoldOptions, FoldRuntime

ROW_KEYS = {"users", "events", "scoring", "layout", "events_per_s", "inmemory_events_per_s", "plain_events_per_s",
            "ratio_to_inmemory", "scored_rows_per_s", "raw_ort_rows_per_s", "score_staleness_p50_s",
            "score_staleness_p99_s", "feature_rows"}


def test_workload_is_thin_at_many_users_and_counted_exactly():
    lines = workload_lines(100_000, 6000, seed=3)
    assert len(lines) == 6000
    st = workload_stats(lines, 500)
    assert st["distinct_users"] > 5000 and st["repeat_user_fraction_in_window"] < 0.1
    ev = lambda u: json.dumps({"user_id": u})  # noqa: E731
    st = workload_stats([ev("a"), ev("b"), ev("a"), "{broken", ev("a"), ev("c")], 3)
    # windows [a b a] and [broken a c]: one repeat among five events with a user
    assert st == {"lines": 6, "distinct_users": 3, "window_events": 3, "repeat_user_fraction_in_window": 0.2}


def test_parts_keep_each_users_events_together_and_the_half_run_is_a_prefix(tmp_path):
    lines = workload_lines(500, 3000, seed=4)
    (half_dir, n_half), (full_dir, n_full) = write_parts(lines, tmp_path, 2)
    assert n_full == len(lines)
    full = [p.read_text().splitlines() for p in sorted(full_dir.glob("*.jsonl"))]
    half = [p.read_text().splitlines() for p in sorted(half_dir.glob("*.jsonl"))]
    assert sorted(x for p in full for x in p) == sorted(lines)
    assert n_half == sum(len(p) for p in half) == sum(len(p) // 2 for p in full)
    for h, f in zip(half, full):
        assert f[:len(h)] == h
    owners = {}
    for i, part in enumerate(full):
        for x in part:
            try:
                owners.setdefault(json.loads(x).get("user_id"), set()).add(i)
            except (ValueError, AttributeError):
                pass
    assert all(len(v) == 1 for k, v in owners.items() if k is not None)
    for part in full:  # a user's events keep their order within the part
        members = set(part)
        assert [x for x in lines if x in members] == part


def test_pair_figures_are_the_difference_of_two_runs():
    small = {"events": 1000, "net_runtime_s": 8.0, "model_rows": 900, "feature_rows": 950}
    large = {"events": 3000, "net_runtime_s": 10.0, "model_rows": 2700, "feature_rows": 2850}
    f = pair_figures(small, large, "net_runtime_s")
    assert f == {"events_per_s": 1000.0, "scored_rows_per_s": 900.0, "feature_rows_per_s": 950.0, "valid": True}
    assert pair_figures({**small, "model_rows": None}, large, "net_runtime_s")["scored_rows_per_s"] is None
    noise = pair_figures(large, small, "net_runtime_s")  # the longer run finished first: noise, no rate
    assert noise["valid"] is False and noise["events_per_s"] is None
    assert model_rows({"scored_rows": 100, "cold_start_rows": 30}) == 70
    assert model_rows({"scored_rows": None}) is None


def test_rows_have_the_promised_keys_and_targets_are_judged():
    inmem, plain = {"events_per_s": 50_000.0}, {"events_per_s": 4000.0}
    runs = [{"events": 2_000_000, "feature_rows": 1_500_000, "score_staleness_p50_s": None,
             "score_staleness_p99_s": None}]
    pairs = [{"events_per_s": e, "scored_rows_per_s": s, "valid": True}
             for e, s in ((21_000, 18_000), (30_000, 1), (9000, 9000))]
    pairs.append({"events_per_s": None, "scored_rows_per_s": None, "valid": False})
    off = make_row(1_000_000, False, "local", pairs, runs, inmem, plain, 40_000)
    assert ROW_KEYS <= set(off)
    assert off["events_per_s"] == 21_000 and off["ratio_to_inmemory"] == 0.42  # the median pair
    assert off["scored_rows_per_s"] is None and off["raw_ort_rows_per_s"] is None
    on = make_row(1_000_000, True, "local", pairs[:1], runs, inmem, plain, 40_000)
    assert on["scored_rows_per_s"] == 18_000 and on["raw_ort_rows_per_s"] == 40_000
    t = check_targets([off, on], {"p99_s": 1.4}, 1400, 1_000_000)
    local = t["by_layout"]["local"]
    assert local["events_per_s"] == {"value": 21_000, "met": True}
    assert local["ratio_to_inmemory"]["met"] is True
    assert local["scoring_ingest_ratio"] == {"value": 1.0, "met": True}
    assert local["scorer_to_raw_ort"] == {"value": 0.45, "met": False}
    assert local["score_staleness_p99_reported"]["met"] is False
    assert t["latency_p99_s"]["met"] is False and t["state_bytes_median"]["met"] is True
    assert t["targets"] == TARGETS
    none = make_row(1_000_000, False, "2x1", pairs[3:], runs, inmem, plain, None)
    assert none["events_per_s"] is None and none["ratio_to_inmemory"] is None and none["pair_events_per_s"] == [None]
    assert check_targets([none], None, None, 1_000_000)["by_layout"]["2x1"] == {}


def test_staleness_is_read_from_the_run_counters_or_left_null():
    assert staleness_s({"events_applied.0": 5}) == (None, None)
    stats = {"score_staleness_p50_ms.0": 200, "score_staleness_p50_ms.1": 400,
             "score_staleness_p99_ms.0": 900, "score_staleness_p99_ms.1": 1500}
    assert staleness_s(stats) == (0.4, 1.5)
    lat = {"latency_p99_ms.0": 300, "latency_p99_ms.1": 2100, "latency_p50_ms.0": 90}
    assert largest_over_subtasks(lat, "latency_p99_ms") == 2100  # the slowest writer, not subtask 0
    assert largest_over_subtasks(lat, "latency_max_ms") is None


def test_inmemory_loop_folds_the_same_events_as_the_reference():
    cfg = load_config()
    lines = workload_lines(2000, 3000, seed=5)
    r = run_inmemory(cfg, lines)
    assert r["applied"] + r["dead"] + r["late"] == r["events"] == len(lines)
    assert r["dead"] > 0
    params = cfg.features.params()
    rt = FoldRuntime(FoldOptions.from_config(cfg), params)
    ref = fold_with_items(lines, params, rt, items=False).states
    assert set(r["states"]) == set(ref)
    for uid, state in ref.items():
        assert rt.features_json(r["states"][uid], params) == rt.features_json(state, params)


@pytest.mark.flink
def test_benchmark_end_to_end_on_a_tiny_workload(tmp_path):
    out = tmp_path / "card.json"
    main(["--users", "3000", "--events", "12000", "--layouts", "local", "--skip-latency", "--note", "smoke",
          "--out", str(out)])
    r = json.loads(out.read_text())
    assert {(x["scoring"], x["layout"]) for x in r["runs"]} == {(False, "local"), (True, "local")}
    for x in r["runs"]:  # runs this short time noise as much as work: a rate may be left None
        assert ROW_KEYS <= set(x) and x["events"] == 12000 and x["feature_rows"] > 0
        assert x["events_per_s"] is None or x["events_per_s"] > 0
    on = next(x for x in r["runs"] if x["scoring"])
    assert on["raw_ort_rows_per_s"] > 0 and r["details"]["job_runs"]["3000-local-True"][-1]["scored_rows"] > 0
    assert r["note"] == "smoke" and r["state_bytes_median"] > 0 and "load_avg" in r["machine"]
    # the RocksDB part alone, added to the same results file without touching the rest
    main(["--rocksdb-only", "--rocksdb-users", "400", "--rocksdb-events", "1500", "--out", str(out)])
    again = json.loads(out.read_text())
    assert again["runs"] == r["runs"] and again["created"] == r["created"]
    [rocks] = again["rocksdb"]
    assert rocks["users_range"] == 400 and rocks["events"] == 1500
    assert 0 < rocks["users_held"] <= 400 and rocks["jvm_peak_rss_mib"] > 0
    assert again["rocksdb_code"]["commit"] and "end" in again["rocksdb_load_avg"]
    # a later run that does not measure RocksDB keeps that part, with its own dates
    main(["--users", "2000", "--events", "6000", "--layouts", "local", "--skip-latency", "--inmemory-repeats", "1",
          "--cluster-set", "cluster.taskmanager_memory=3072m", "--out", str(out)])
    third = json.loads(out.read_text())
    assert third["created"] != r["created"] or third["runs"] != r["runs"]
    assert {x["users"] for x in third["runs"]} == {2000} and third["cluster_settings"] == ["cluster.taskmanager_memory=3072m"]
    assert third["rocksdb"] == again["rocksdb"] and third["rocksdb_created"] == again["rocksdb_created"]
