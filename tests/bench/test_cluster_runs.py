"""Pure parts of the cluster throughput runs (the runs themselves need a cluster: bench only)."""
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
