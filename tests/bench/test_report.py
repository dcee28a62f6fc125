"""Benchmark report: the performance tables (docs/performance.md, README.md) and the plots come from the
result files, and the committed tables are what the committed results give."""
import json

import pytest

from bench import report
from bench.state_size import state_sizes
from recstream.config import load_config
from recstream.replay import source_lines

E2E = {
    "events_per_s": 4321, "features_events_per_s": 6000, "plain_python_events_per_s": 11000,
    "plain_python_features_events_per_s": 12000, "ratio_to_plain_python": 0.393, "parallelism": 2,
    "target_events_per_s": 20000, "machine": {"cores": 2},
    "state": {"sequence_length": 50, "bytes_median": 3300, "bytes_median_full_sequence": 3600, "bytes_p99": 4800},
    "latency": {"users": 10000, "max_events_per_s": 480, "levels": [
        {"fraction_of_max": f, "rate_events_per_s": int(480 * f), "p50_latency_s": 0.4 + f, "p99_latency_s": 0.6 + f}
        for f in (0.25, 0.5, 0.9)]},
}


@pytest.fixture
def results(tmp_path, monkeypatch):
    (tmp_path / "e2e.json").write_text(json.dumps(E2E))
    perf = tmp_path / "README.md"
    perf.write_text(f"# Benchmarks\n\nintro\n\n{report.BEGIN}\nold table\n{report.END}\n\n## after\n")
    readme = tmp_path / "TOP.md"
    readme.write_text(f"# recstream\n\n{report.HEADLINE_BEGIN}\n{report.HEADLINE_END}\n")
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    monkeypatch.setattr(report, "PERFORMANCE", perf)
    monkeypatch.setattr(report, "README", readme)
    return tmp_path


def test_readme_table_is_rewritten_from_the_results_and_the_rest_kept(results):
    report.write_tables()
    text = (results / "README.md").read_text()
    assert "old table" not in text and text.startswith("# Benchmarks\n\nintro") and text.endswith("## after\n")
    assert "| 4,321 events/s | ≥ 20,000 |" in text
    assert "job / plain = 0.393" in text
    assert "latency at 50% of max (240/s, 10,000 users) | p50 0.9 s, p99 1.1 s | p99 < 1 s" in text
    assert "`recstream train`" not in text  # no train_time.json here
    (results / "train_time.json").write_text(json.dumps({
        "data": {"interactions": 282639, "n_users": 30000}, "wall_seconds": 766.6, "best_epoch": 25,
        "epochs_run": 45, "target_seconds": 1800}))
    report.write_tables()
    text = (results / "README.md").read_text()
    assert "282,639 interactions / 30,000 users (synthetic) | 12.8 min wall, best epoch 25 of 45 | < 30 min |" in text
    assert report.write_tables() == []  # idempotent
    assert (results / "README.md").read_text() == text
    top = (results / "TOP.md").read_text()
    assert "| 4,321 events/s | ≥ 20,000 |" in top and "job / plain" not in top  # headline rows only


def test_committed_tables_are_what_the_committed_results_give():
    for path, begin, end, block in report.blocks():
        text = path.read_text()
        assert report.replace_block(text, begin, end, block) == text, (
            f"{path.relative_to(report.REPO)} differs from bench/results/*.json: run `recstream bench report`")


def test_cluster_layouts_lead_the_table_and_the_plot(results):
    e2e = dict(E2E, events_per_s=21000, local_events_per_s=4321, cluster={
        "2x1": {"events_per_s": 21000, "taskmanagers": 2, "slots": 1},
        "1x2": {"events_per_s": 15000, "taskmanagers": 1, "slots": 2}})
    (results / "e2e.json").write_text(json.dumps(e2e))
    report.write_tables()
    text = (results / "README.md").read_text()
    assert "standalone cluster 2 TaskManager(s) × 1 slot(s) | 21,000 events/s | ≥ 20,000 |" in text
    assert "standalone cluster 1 TaskManager(s) × 2 slot(s) | 15,000 events/s |  |" in text
    assert "local mini-cluster (`recstream run`), p=2 | 4,321 events/s |  |" in text
    pytest.importorskip("matplotlib")
    assert report.plot_e2e(e2e, results)[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_are_written(results):
    pytest.importorskip("matplotlib")
    paths = report.plot_e2e(E2E, results)
    assert [p.name for p in paths] == ["e2e_throughput.png", "e2e_latency.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_state_sizes_show_the_parts_and_grow_with_n():
    sizes = {}
    for n in (5, 50):
        cfg = load_config(overrides=["source.synthetic.events=3000", "source.synthetic.users=60",
                                     f"features.sequence_length={n}"])
        sizes[n] = state_sizes(cfg, list(source_lines(cfg)))
    assert sizes[5]["users"] == sizes[50]["users"] > 0
    assert sizes[50]["bytes_median"] > sizes[5]["bytes_median"]
    parts = sizes[50]["bytes_by_part_median"]
    assert {"sequence", "windows", "interest"} <= set(parts) and parts["sequence"] > sizes[5]["bytes_by_part_median"]["sequence"]
