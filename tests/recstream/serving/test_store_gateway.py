"""StoreGateway: store reads on a thread pool with a timeout, failures mapped to 503/504 errors and
the reader reopened after one (real SQLite stores, real threads)."""
from __future__ import annotations

import asyncio
import json
import threading

import pytest

from recstream.config import load_config
from recstream.reader import Reader, open_reader
from recstream.serving.metrics import ServeMetrics
from recstream.serving.store_gateway import StoreGateway, StoreTimeout, StoreUnavailable
from recstream.store.base import FeatureRow
from recstream.store.sqlite import SqliteStore


@pytest.fixture
def cfg(tmp_path):
    return load_config(overrides=[f"store.sqlite.path={tmp_path / 'store.sqlite'}"])


def _write(cfg, uid="u1"):
    with SqliteStore(cfg.store.sqlite.path) as st:
        st.upsert_features([FeatureRow(uid, 1, 1, json.dumps({"n": 1}), "[]")])


def test_a_read_slower_than_the_timeout_is_a_store_timeout(cfg):
    _write(cfg)
    release = threading.Event()
    gw = StoreGateway(cfg, threads=2, timeout_s=0.05, metrics=(m := ServeMetrics()))

    def stuck(reader):
        release.wait(30)  # held until the timeout has been reported
        return reader.get_user_state("u1", as_of="event")

    try:
        with pytest.raises(StoreTimeout, match="within 0.05 s"):
            asyncio.run(gw.call("user", stuck))
        assert m.registry.get_sample_value("recstream_serve_store_errors_total",
                                           {"op": "user", "kind": "timeout"}) == 1
    finally:
        release.set()
        gw.close()


def test_missing_store_is_unavailable_until_it_appears_then_reads_work(cfg):
    opened: list[Reader] = []

    def open_counted(config):
        r = open_reader(config=config)
        opened.append(r)
        return r

    gw = StoreGateway(cfg, threads=1, timeout_s=10, metrics=ServeMetrics(), open_fn=open_counted)
    try:
        with pytest.raises(StoreUnavailable, match="^store unreachable$"):
            asyncio.run(gw.call("user", lambda r: r.get_user_state("u1", as_of="event")))
        _write(cfg)
        assert asyncio.run(gw.call("user", lambda r: r.get_user_state("u1", as_of="event")))["features"] == {"n": 1}
        assert asyncio.run(gw.call("user", lambda r: r.get_user_state("u2"))) is None
        assert len(opened) == 1  # opened once it existed, then kept
    finally:
        gw.close()


def test_sqlite_reads_use_one_connection_per_thread(cfg):
    _write(cfg)
    gw = StoreGateway(cfg, threads=3, timeout_s=10, metrics=ServeMetrics())
    barrier = threading.Barrier(3)

    def conn_of(reader):
        barrier.wait(10)  # all three reads in flight at once, on three threads
        return id(reader.store.conn)

    async def three():
        return await asyncio.gather(*(gw.call("user", conn_of) for _ in range(3)))

    try:
        assert len(set(asyncio.run(three()))) == 3
    finally:
        gw.close()
