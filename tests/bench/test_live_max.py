"""The live maximum-rate search of the latency benchmarks (bench.jobs.live_max_rate), on a
stand-in for the job whose capacity is known: a run above capacity takes longer than its
events' span, as a backpressured datagen source does."""
import pytest

from bench.jobs import keeps_up, live_max_rate


def job_with_capacity(capacity: float, seconds: int = 20):
    calls = []

    def run(rate):
        calls.append(rate)
        net = 0.3 + seconds * max(1.0, rate / capacity)
        return {"net_runtime_s": net, "p99_latency_s": 0.5}

    return run, calls


@pytest.mark.parametrize("capacity,start", [(1850, 3708), (1850, 900), (5000, 5000), (100, 3708)])
def test_search_finds_the_highest_probed_rate_that_keeps_up(tmp_path, capacity, start):
    run, calls = job_with_capacity(capacity)
    best, probes = live_max_rate(tmp_path, [], 10, start, run=run, log=lambda m: None)
    for p, r in zip(probes, calls):  # the verdict follows the capacity (0.3 s of start/end allowed)
        assert p["keeps_up"] == (0.3 + 20 * max(1.0, r / capacity) <= 20 * 1.04)
    passed = [r for p, r in zip(probes, calls) if p["keeps_up"]]
    failed = [r for p, r in zip(probes, calls) if not p["keeps_up"]]
    assert best == max(passed) and failed and min(failed) > best  # bracketed from above
    assert best >= min(failed) / 1.25 - 1  # within one step of the first failing rate
    if start > capacity:  # a start far above capacity jumps to the rate the failing run achieved
        assert len(probes) <= 4


def test_keeps_up_allows_start_and_end_but_not_backpressure():
    assert keeps_up({"net_runtime_s": 20.4}, 20) and not keeps_up({"net_runtime_s": 21.9}, 20)


def test_search_gives_up_when_nothing_keeps_up(tmp_path):
    run, _ = job_with_capacity(0.001)
    with pytest.raises(RuntimeError, match="kept up"):
        live_max_rate(tmp_path, [], 10, 1000, run=run, log=lambda m: None)
