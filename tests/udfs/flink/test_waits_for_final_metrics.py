"""The wait a recstream operator takes in ``close()`` at the end of a bounded run."""
from __future__ import annotations

import pickle
import time

from udfs.flink.metrics import WaitsForFinalMetrics, with_final_wait
from udfs.flink.sink import FeatureWriter


class Operator(WaitsForFinalMetrics):
    pass


def test_no_wait_unless_the_builder_sets_one():
    op = Operator()
    t0 = time.monotonic()
    op.wait_for_final_metrics()
    assert op.final_wait_ms == 0 and time.monotonic() - t0 < 0.5


def test_the_wait_travels_with_the_pickled_function_and_is_slept():
    writer = pickle.loads(pickle.dumps(with_final_wait(FeatureWriter(None, "run"), 300)))
    assert writer.final_wait_ms == 300
    t0 = time.monotonic()
    writer.wait_for_final_metrics()
    assert time.monotonic() - t0 >= 0.3
    assert with_final_wait(Operator(), None).final_wait_ms == 0
    assert with_final_wait(Operator(), -5).final_wait_ms == 0
