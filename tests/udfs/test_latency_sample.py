from udfs.flink.sink import DistinctCounter, LatencySample


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


def test_distinct_counter_is_exact_below_its_cap():
    c = DistinctCounter(exact_cap=1000)
    for i in range(5000):
        c.add(f"u{i % 700}")
    assert c.exact and c.count() == 700


def test_distinct_counter_memory_stays_bounded_past_its_cap_within_the_stated_error():
    c = DistinctCounter(exact_cap=1000, p=14)
    for rep in range(2):  # every key twice: repeats must not count
        for i in range(200_000):
            c.add(f"user-{i}")
    assert not c.exact and c._keys is None and len(c._registers) == 1 << 14
    # 1.04 / sqrt(2**14) = 0.81 % relative standard error; 4 sigma
    assert abs(c.count() - 200_000) <= 0.033 * 200_000, c.count()


def test_distinct_counter_running_sums_match_its_registers():
    c = DistinctCounter(exact_cap=10, p=8)
    for i in range(5000):
        c.add(str(i))
    assert c._zeros == c._registers.count(0)
    assert abs(c._inv_sum - sum(2.0 ** -r for r in c._registers)) < 1e-9
