"""When a bucket's expired map-state entries are swept, and what the sweep counts (no Flink)."""
from __future__ import annotations

from udfs.flink.state import ExpirySweep


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Keys:
    """A bucket's map state as the sweep sees it: only ``keys()``, counted."""

    def __init__(self, *keys: str) -> None:
        self.items = list(keys)
        self.walks = 0

    def keys(self):
        self.walks += 1
        yield from self.items


def test_interval_is_a_tenth_of_the_ttl_within_bounds():
    assert ExpirySweep(30 * 86_400_000, 32).interval_s == 3600.0  # 30 days: hourly
    assert ExpirySweep(600_000, 32).interval_s == 60.0
    assert ExpirySweep(50, 32).interval_s == 0.1


def test_a_bucket_is_first_due_after_a_staggered_interval_then_every_interval():
    clock = Clock()
    sweep = ExpirySweep(100_000, 4, clock=clock)  # 10 s
    assert not sweep.due(0) and not sweep.due(2)  # first sight: scheduled, not swept
    clock.t += 10.0
    assert sweep.due(0) and not sweep.due(2)  # bucket 2 of 4 is first due after 15 s
    clock.t += 5.0
    assert sweep.due(2)
    users = Keys("a", "b", "c")
    assert sweep.run(0, users) == 3 and users.walks == 1
    assert not sweep.due(0)
    clock.t += 9.9
    assert not sweep.due(0)
    clock.t += 0.1
    assert sweep.due(0)


def test_run_walks_every_state_given_and_counts_the_first():
    sweep = ExpirySweep(100_000, 2, clock=Clock())
    users, embeddings = Keys("a", "b"), Keys("a")
    assert sweep.run(1, users, embeddings) == 2
    assert users.walks == embeddings.walks == 1
    assert sweep.run(0, Keys("x", "y", "z")) == 3
    assert sweep.live_total == 5  # per bucket, as of its last sweep
    assert sweep.run(1, Keys()) == 0
    assert sweep.live_total == 3


def test_maybe_run_sweeps_only_when_due_and_sets_the_gauge():
    class Gauge:
        value = None

        def set(self, v):
            self.value = v

    class Keys:
        def __init__(self, n):
            self.n = n

        def keys(self):
            return range(self.n)

    now = [0.0]
    gauge = Gauge()
    sweep = ExpirySweep(10_000, 2, clock=lambda: now[0], gauge=gauge)  # interval 1 s
    assert not sweep.maybe_run(0, Keys(5)) and gauge.value is None  # first sight: scheduled, not swept
    now[0] = 0.5
    assert not sweep.maybe_run(0, Keys(5)) and gauge.value is None
    now[0] = 1.0
    assert sweep.maybe_run(0, Keys(5)) and gauge.value == 5
    assert not sweep.maybe_run(1, Keys(3)) and gauge.value == 5
    now[0] = 3.0
    assert sweep.maybe_run(1, Keys(3)) and gauge.value == 8  # live entries over all swept buckets
