"""Bounded-concurrency execution of asynchronous requests with retries and backoff.

``BoundedExecutor.run(requests)`` submits every request with at most ``max_in_flight``
of them outstanding, waits until each one has succeeded, and returns their results in
order. Transient failures (timeouts, unavailable replicas, no reachable host, an
overloaded or bootstrapping coordinator) are retried, with exponential backoff between
rounds, up to ``RetryConfig.max_attempts`` attempts per request; the writes it runs are
idempotent (``USING TIMESTAMP``), so a retry of a write that did land changes nothing.
When a request still fails after its last attempt, or fails with an error that a
retry cannot fix (bad query, unauthorized), ``run`` raises ``StoreWriteError``: the
Flink task fails and restarts from its last checkpoint instead of dropping data.

The module knows nothing about Cassandra sessions: ``submit(request)`` returns a
future with the driver's ``add_callbacks(callback, errback)`` interface.
"""
from __future__ import annotations

import random
import threading
import time
from typing import Callable, Sequence

from recstream.store.base import StoreError
from recstream.store.cassandra.config import RetryConfig


class StoreWriteError(StoreError):
    """A store request failed for good (after retries, or with a non-transient error)."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def transient_errors() -> tuple[type[BaseException], ...]:
    """Driver errors worth retrying with backoff."""
    from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
    from cassandra.cluster import NoHostAvailable
    from cassandra.protocol import IsBootstrappingErrorMessage, OverloadedErrorMessage

    return (OperationTimedOut, WriteTimeout, ReadTimeout, Unavailable, NoHostAvailable,
            OverloadedErrorMessage, IsBootstrappingErrorMessage)


def backoff_delay(cfg: RetryConfig, attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential, capped, jittered."""
    base = min(cfg.max_backoff_s, cfg.initial_backoff_s * cfg.multiplier ** (attempt - 1))
    return base * (1.0 - cfg.jitter * rand())


def describe_error(exc: BaseException) -> str:
    """Type and message of a driver error, cut short (never includes request parameters)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text[:300]}"


class BoundedExecutor:
    def __init__(self, submit: Callable, max_in_flight: int, retry: RetryConfig,
                 transient: tuple[type[BaseException], ...] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.submit = submit
        self.max_in_flight = max_in_flight
        self.retry = retry
        self.transient = transient if transient is not None else transient_errors()
        self.sleep = sleep
        self.retries = 0           # requests re-submitted after a transient error (lifetime)
        self.requests = 0          # attempts submitted (lifetime)
        self.max_in_flight_seen = 0

    def run(self, requests: Sequence, what: str = "request") -> list:
        """Results of ``requests`` in order; raises ``StoreWriteError`` when any fails for good."""
        results: list = [None] * len(requests)
        pending = list(range(len(requests)))
        attempt = 0
        while pending:
            attempt += 1
            failures = self._round(requests, pending, results)
            if not failures:
                return results
            fatal = {i: e for i, e in failures.items() if not isinstance(e, self.transient)}
            if fatal:
                i, exc = next(iter(fatal.items()))
                raise StoreWriteError(f"{len(fatal)} of {len(requests)} {what}s failed with a non-transient "
                                      f"error, e.g. {describe_error(exc)}", retryable=False) from exc
            if attempt >= self.retry.max_attempts:
                i, exc = next(iter(failures.items()))
                raise StoreWriteError(f"{len(failures)} of {len(requests)} {what}s still failing after "
                                      f"{attempt} attempts, e.g. {describe_error(exc)}", retryable=True) from exc
            self.retries += len(failures)
            self.sleep(backoff_delay(self.retry, attempt))
            pending = sorted(failures)
        return results

    def _round(self, requests: Sequence, indices: list[int], results: list) -> dict[int, BaseException]:
        slots = threading.BoundedSemaphore(self.max_in_flight)
        lock = threading.Lock()
        done = threading.Event()
        failures: dict[int, BaseException] = {}
        state = {"outstanding": len(indices), "in_flight": 0}

        def finish(i: int, value, exc: BaseException | None) -> None:
            with lock:
                if exc is None:
                    results[i] = value
                else:
                    failures[i] = exc
                state["in_flight"] -= 1
                state["outstanding"] -= 1
                last = state["outstanding"] == 0
            slots.release()
            if last:
                done.set()

        def on_ok(value, i: int) -> None:
            finish(i, value, None)

        def on_error(exc: BaseException, i: int) -> None:
            finish(i, None, exc)

        for i in indices:
            slots.acquire()
            with lock:
                state["in_flight"] += 1
                self.max_in_flight_seen = max(self.max_in_flight_seen, state["in_flight"])
            self.requests += 1
            try:
                future = self.submit(requests[i])
            except Exception as exc:  # raised before the request left (e.g. no host at all)
                finish(i, None, exc)
                continue
            future.add_callbacks(on_ok, on_error, callback_args=(i,), errback_args=(i,))
        if indices:
            done.wait()
        return failures

