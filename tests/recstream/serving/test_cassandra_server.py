"""``recstream serve`` over Cassandra: 503 when the cluster cannot be reached (runs anywhere), and
the read path against a real cluster where one is configured."""
from __future__ import annotations

import json
import os

import pytest

from recstream.cluster.local import free_port
from recstream.store.cassandra.config import HOSTS_ENV
from tests.recstream.serving.conftest import Server


def test_unreachable_cassandra_is_503():
    srv = Server(["--set", "store.kind=cassandra", "--set", f"store.cassandra.hosts=[\"127.0.0.1:{free_port()}\"]",
                  "--set", "store.cassandra.connect_timeout_s=2"], env={HOSTS_ENV: ""})
    try:
        got = srv.client.get("/healthz")
        assert got.status_code == 503 and got.json() == {"error": "store unreachable"}
        assert srv.client.get("/users/u1").status_code == 503
    finally:
        srv.close()


@pytest.mark.skipif(not os.environ.get(HOSTS_ENV), reason=f"no Cassandra configured: set {HOSTS_ENV}=host[:port]")
def test_reads_against_a_real_cluster(tmp_path):
    import uuid

    from recstream.backfill import backfill
    from recstream.config import load_config
    from recstream.replay import write_replay_file

    ks = "recstream_serve_" + uuid.uuid4().hex[:8]
    overrides = ["store.kind=cassandra", f"store.cassandra.keyspace={ks}"]
    cfg = load_config(overrides=overrides)
    from recstream.store.cassandra.store import connect
    from recstream.store.cassandra.schema import apply_schema

    cluster, session = connect(cfg.store.cassandra)
    apply_schema(session, cfg.store.cassandra, echo=lambda _: None)
    try:
        events = tmp_path / "events.jsonl"
        write_replay_file(cfg, events)
        backfill(cfg, events)
        raw = json.loads(events.read_text().splitlines()[0])["user_id"]
        srv = Server([a for o in overrides for a in ("--set", o)])
        try:
            assert srv.client.get("/healthz").status_code == 200
            assert srv.client.get(f"/users/{raw}").json()["user_id"] == raw
            got = srv.client.post("/users:batchGet", json={"user_ids": [raw, "nobody"]}).json()
            assert got["found"] == 1 and got["missing"] == [1]
        finally:
            srv.close()
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {ks}", timeout=120)
        cluster.shutdown()
