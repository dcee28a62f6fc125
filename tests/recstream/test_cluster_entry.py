"""The paced replay step of the cluster entry point."""
from __future__ import annotations

import time

from flink_jobs.cluster_entry import Pace


def test_pace_holds_the_rate_and_passes_lines_through():
    pace = Pace(rate=500)
    pace.open(None)
    t0 = time.monotonic()
    out = [pace.map((f"line {i}",)) for i in range(200)]  # Row(f0) records from the file source
    elapsed = time.monotonic() - t0
    assert out == [f"line {i}" for i in range(200)]
    assert elapsed >= 199 / 500 - 0.01  # never faster than the rate (slower is fine on a busy box)
