"""The cluster throughput runs: layout parsing, the marginal rate, and one real run on a standalone cluster."""
import pytest

from bench.cluster_runs import parse_layout
from bench.jobs import marginal_rate


def test_layouts_parse_and_bad_ones_say_why():
    assert parse_layout("2x1") == (2, 1) and parse_layout("1X2") == (1, 2)
    for bad in ("2", "2x", "axb", "0x2", "2x1x1"):
        with pytest.raises(ValueError, match="layout"):
            parse_layout(bad)


def test_marginal_rate_cancels_the_fixed_start_up():
    start_up = 9.0
    small = {"events": 100_000, "duration_s": start_up + 100_000 / 20_000}
    large = {"events": 500_000, "duration_s": start_up + 500_000 / 20_000}
    assert marginal_rate(small, large, "duration_s") == pytest.approx(20_000)


@pytest.mark.flink
@pytest.mark.cluster
def test_a_cluster_run_accounts_for_every_line_and_reports_score_staleness(tmp_path):
    from bench.cardinality_bench import SCORING, workload_lines, write_parts
    from bench.cluster_runs import LayoutClusters

    _, (replay, lines) = write_parts(workload_lines(500, 1500), tmp_path / "replay", 1)
    with LayoutClusters(tmp_path, ["1x1"], 1, SCORING[True]) as clusters:
        run = clusters.run("1x1", replay, lines, "tiny")
    assert run["state"] == "FINISHED" and run["events"] == lines and run["feature_rows"] > 0
    assert run["scored_rows"] > 0 and run["score_staleness_p99_s"] is not None
    assert 0 <= run["score_staleness_p50_s"] <= run["score_staleness_p99_s"]
