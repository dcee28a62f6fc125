"""BoundedExecutor: the in-flight bound, retries with backoff, and giving up.

No Cassandra server can run on this machine, so these tests drive the executor with a
small fake of the driver's asynchronous future (``add_callbacks``), completed from
other threads the way the driver's event loop completes requests. The fake is used
ONLY for this retry / in-flight logic; the errors it raises are the driver's real
exception classes. Everything Cassandra-facing is tested against a real cluster in the
contract suite when one is configured.
"""
from __future__ import annotations

import threading
import time

import pytest
from cassandra import InvalidRequest, OperationTimedOut, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable

from recstream.store.cassandra.config import RetryConfig
from recstream.store.cassandra.concurrency import BoundedExecutor, StoreWriteError, backoff_delay


class FakeFuture:
    def __init__(self, outcome, delay_s: float, on_done) -> None:
        self.outcome, self.delay_s, self.on_done = outcome, delay_s, on_done

    def add_callbacks(self, callback, errback, callback_args=(), errback_args=()):
        def complete():
            time.sleep(self.delay_s)
            self.on_done()
            if isinstance(self.outcome, BaseException):
                errback(self.outcome, *errback_args)
            else:
                callback(self.outcome, *callback_args)

        threading.Thread(target=complete, daemon=True).start()


class FakeSession:
    """``script(request, attempt)`` -> result or exception for that attempt (attempts count from 1)."""

    def __init__(self, script, delay_s: float = 0.002) -> None:
        self.script, self.delay_s = script, delay_s
        self.lock = threading.Lock()
        self.in_flight = self.peak = 0
        self.attempts: dict = {}

    def submit(self, request):
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.attempts[request] = self.attempts.get(request, 0) + 1
            outcome = self.script(request, self.attempts[request])
        return FakeFuture(outcome, self.delay_s, self._done)

    def _done(self):
        with self.lock:
            self.in_flight -= 1


RETRY = RetryConfig(max_attempts=4, initial_backoff_s=0.01, max_backoff_s=0.03, multiplier=2, jitter=0)


def test_at_most_max_in_flight_and_results_in_order():
    session = FakeSession(lambda r, a: f"ok-{r}")
    ex = BoundedExecutor(session.submit, max_in_flight=5, retry=RETRY, transient=(WriteTimeout,))
    assert ex.run(list(range(200))) == [f"ok-{i}" for i in range(200)]
    assert session.peak <= 5 and ex.max_in_flight_seen <= 5
    assert session.peak == 5  # the bound is also used, not just respected
    assert ex.retries == 0 and ex.requests == 200


def test_transient_errors_are_retried_with_exponential_backoff():
    errors = {3: WriteTimeout("timed out", write_type=0), 7: Unavailable("down"), 9: OperationTimedOut("slow"),
              11: NoHostAvailable("none", {})}

    def script(r, attempt):
        if r in errors and attempt <= (2 if r == 3 else 1):
            return errors[r]
        return r * 10

    session = FakeSession(script)
    sleeps: list[float] = []
    ex = BoundedExecutor(session.submit, 4, RETRY, sleep=sleeps.append)
    assert ex.run(list(range(20))) == [i * 10 for i in range(20)]
    assert session.attempts[3] == 3 and session.attempts[7] == 2 and session.attempts[0] == 1
    assert sleeps == [0.01, 0.02]  # one backoff per round, doubling
    assert ex.retries == 5  # 4 failed in round 1, request 3 again in round 2


def test_gives_up_after_max_attempts_and_raises():
    session = FakeSession(lambda r, a: WriteTimeout("replica timeout", write_type=0) if r == 1 else "ok")
    sleeps: list[float] = []
    ex = BoundedExecutor(session.submit, 2, RETRY, sleep=sleeps.append)
    with pytest.raises(StoreWriteError, match=r"1 of 3 writes still failing after 4 attempts.*WriteTimeout") as info:
        ex.run([0, 1, 2], what="write")
    assert info.value.retryable and session.attempts[1] == 4 and session.attempts[0] == 1
    assert sleeps == [0.01, 0.02, 0.03]  # capped at max_backoff_s


def test_non_transient_error_fails_at_once():
    session = FakeSession(lambda r, a: InvalidRequest("unconfigured table user_features") if r == 2 else "ok")
    sleeps: list[float] = []
    ex = BoundedExecutor(session.submit, 3, RETRY, sleep=sleeps.append)
    with pytest.raises(StoreWriteError, match="non-transient error.*InvalidRequest: unconfigured table") as info:
        ex.run(list(range(6)))
    assert not info.value.retryable and session.attempts[2] == 1 and sleeps == []


def test_error_raised_while_submitting_counts_as_a_failed_attempt():
    calls = []

    def submit(r):
        calls.append(r)
        if len(calls) == 1:
            raise NoHostAvailable("no host in the local DC", {})
        return FakeFuture("ok", 0, lambda: None)

    ex = BoundedExecutor(submit, 1, RETRY, sleep=lambda s: None)
    assert ex.run(["a"]) == ["ok"] and calls == ["a", "a"] and ex.retries == 1


def test_backoff_delay_is_capped_and_jittered_down():
    cfg = RetryConfig(initial_backoff_s=0.1, max_backoff_s=1.0, multiplier=3, jitter=0.5)
    assert [backoff_delay(cfg, a, rand=lambda: 0.0) for a in (1, 2, 3, 4)] == pytest.approx([0.1, 0.3, 0.9, 1.0])
    assert backoff_delay(cfg, 2, rand=lambda: 1.0) == pytest.approx(0.15)
