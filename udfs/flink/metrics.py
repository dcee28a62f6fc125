"""Gauges that are safe in PyFlink's thread mode.

PyFlink registers a Python gauge as a Java gauge whose ``getValue`` calls the Python
callback. Flink's metric query service calls it on its own thread ("flink-metrics-N"),
which enters the embedded interpreter from a foreign thread; in a CI run on the
standalone cluster that crashed the TaskManager JVM (SIGSEGV in ``take_gil``; hs_err
file kept in the test's cluster folder). So values are *pushed* from the operator's
own thread into a counter instead: the counter holds the current value (``inc`` /
``dec`` by the difference), and Flink reads it without calling Python. A scalar UDF's
counter reaches Java only once it changed, so a value that stays 0 may be absent.
"""
from __future__ import annotations

import time


class SettableGauge:
    """``set(value)`` from the operator; the web UI / REST show the last value set (an int)."""

    def __init__(self, group, name: str) -> None:
        self._counter = group.counter(name)
        self._value = 0

    def set(self, value) -> None:
        value = int(value)
        delta = value - self._value
        if delta > 0:
            self._counter.inc(delta)
        elif delta < 0:
            self._counter.dec(-delta)
        self._value = value

    @property
    def value(self) -> int:
        return self._value


class InferenceMetrics:
    """The scorer's metrics, the same names wherever the model runs (the fold or the scoring UDF):
    counters ``inference_rows``, ``inference_batches``, ``inference_cold_start_rows``, the gauge
    ``inference_last_latency_us``, and set once: ``inference_on_gpu``, ``provider.<name>.in_use``,
    ``model_version.<v>.in_use``."""

    def __init__(self, group, provider: str, version: str) -> None:
        self.rows = group.counter("inference_rows")
        self.batches = group.counter("inference_batches")
        self.cold = group.counter("inference_cold_start_rows")
        self.last_latency = SettableGauge(group, "inference_last_latency_us")
        SettableGauge(group, "inference_on_gpu").set(1 if provider.startswith("CUDA") else 0)
        SettableGauge(group.add_group("provider", provider), "in_use").set(1)
        SettableGauge(group.add_group("model_version", version), "in_use").set(1)

    def scored(self, n_rows: int, n_batches: int, n_cold: int, latency_us: int) -> None:
        self.rows.inc(n_rows)
        self.batches.inc(n_batches)
        if n_cold:
            self.cold.inc(n_cold)
        self.last_latency.set(latency_us)


class WaitsForFinalMetrics:
    """Mixin of the recstream operators: ``close()`` waits ``final_wait_ms`` so that the operator's final
    metric values are fetched.

    The JobManager fetches task metrics on demand (web UI, REST), at most every
    ``metrics.fetcher.update-interval``; a finished task keeps the values last fetched, so the final
    increments of a bounded run are missing when the task ends between two fetches. The job builder
    sets the wait (:func:`with_final_wait`) for bounded inputs only: a streaming job closes only on
    cancel or failure, where a wait would only delay the restart. It travels as an attribute of the
    pickled function: PyFlink's thread mode hands Python functions no global job parameters."""

    final_wait_ms: int = 0

    def wait_for_final_metrics(self) -> None:
        if self.final_wait_ms > 0:
            time.sleep(self.final_wait_ms / 1000.0)


def with_final_wait(function, wait_ms: int | None):
    """``function`` (a :class:`WaitsForFinalMetrics`) set to wait ``wait_ms`` in ``close()``."""
    function.final_wait_ms = max(int(wait_ms or 0), 0)
    return function
