"""Store reads for the server: the blocking reader calls run on a small thread pool, each bounded by
the request timeout, with their latency and failures counted.

Readers are opened lazily, so the server starts (and answers ``/healthz`` 503) while the store is
down, and reopened after a failure. SQLite gets one read-only connection per thread (reads then run
in parallel); Cassandra one shared session (the driver is thread-safe and pools connections).
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from recstream.reader import Reader, open_reader
from recstream.serving.metrics import ServeMetrics
from recstream.store.base import StoreError

log = logging.getLogger("recstream.serve")


class StoreUnavailable(RuntimeError):
    """The store could not be reached or failed a read (answered 503)."""


class StoreTimeout(RuntimeError):
    """A store read took longer than the request timeout (answered 504)."""


_STORE_FAILURES = (StoreError, OSError, sqlite3.Error)


class StoreGateway:
    def __init__(self, cfg, threads: int, timeout_s: float, metrics: ServeMetrics,
                 open_fn: Callable[..., Reader] = open_reader) -> None:
        self.cfg = cfg
        self.timeout_s = timeout_s
        self.metrics = metrics
        self._open = open_fn
        self._per_thread = cfg.store.kind == "sqlite"
        self._local = threading.local()
        self._shared: Reader | None = None
        self._lock = threading.Lock()
        self._readers: list[Reader] = []
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="recstream-store")

    def _reader(self) -> Reader:
        if self._per_thread:
            reader = getattr(self._local, "reader", None)
            if reader is None:
                reader = self._local.reader = self._open(config=self.cfg)
                with self._lock:
                    self._readers.append(reader)
            return reader
        with self._lock:
            if self._shared is None:
                self._shared = self._open(config=self.cfg)
                self._readers.append(self._shared)
            return self._shared

    def _forget(self) -> None:
        """Drop this thread's (or the shared) reader after a failure so the next read reopens it."""
        with self._lock:
            reader = getattr(self._local, "reader", None) if self._per_thread else self._shared
            if reader is None:
                return
            self._local.reader = None
            if not self._per_thread:
                self._shared = None
            if reader in self._readers:
                self._readers.remove(reader)
        try:
            reader.close()
        except Exception:  # closing a broken connection may fail again; it is dropped either way
            pass

    def _run(self, fn, args):
        try:
            return fn(self._reader(), *args)
        except _STORE_FAILURES:
            self._forget()
            raise

    async def call(self, op: str, fn: Callable, *args):
        """``fn(reader, *args)`` on the pool; StoreUnavailable / StoreTimeout on failure."""
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self.executor, self._run, fn, args), self.timeout_s)
        except asyncio.TimeoutError:
            self.metrics.store_errors.labels(op, "timeout").inc()
            raise StoreTimeout(f"the store did not answer within {self.timeout_s:g} s") from None
        except _STORE_FAILURES as exc:
            self.metrics.store_errors.labels(op, "unavailable").inc()
            # the detail (paths, hosts) goes to the server's log, not to the client
            log.warning("store read %s failed: %s", op, exc)
            raise StoreUnavailable("store unreachable") from None
        finally:
            self.metrics.store_latency.labels(op).observe(time.perf_counter() - t0)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            readers, self._readers = self._readers, []
        for r in readers:
            try:
                r.close()
            except Exception:
                pass
