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
