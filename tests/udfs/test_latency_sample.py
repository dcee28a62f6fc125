from udfs.flink.sink import LatencySample


def test_reservoir_stays_bounded_and_keeps_the_exact_maximum():
    lat = LatencySample(cap=1000)
    for ms in range(100_000):
        lat.add(ms % 500)
    lat.add(9_999)
    assert lat.n == 100_001 and len(lat.values) == 1000
    s = lat.summary()
    assert s["latency_max_ms"] == 9_999
    assert 200 <= s["latency_p50_ms"] <= 300 and 470 <= s["latency_p99_ms"] <= 500  # uniform 0..499


def test_batch_add_counts_every_row():
    lat = LatencySample(cap=10)
    lat.add(120, count=3)
    lat.add(80, count=2)
    assert lat.n == 5 and sorted(lat.values) == [80, 80, 120, 120, 120]
    assert lat.summary() == {"latency_p50_ms": 120, "latency_p99_ms": 120, "latency_max_ms": 120}
