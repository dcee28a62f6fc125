"""Store fixtures: the contract suite runs on every backend.

SQLite always runs. Cassandra runs only against a real cluster named by
``RECSTREAM_CASSANDRA_HOSTS`` (host[:port],...; optional ``RECSTREAM_CASSANDRA_LOCAL_DC``,
``RECSTREAM_CASSANDRA_USERNAME``/``RECSTREAM_CASSANDRA_PASSWORD``); without it every
Cassandra case is skipped with a reason, never faked. The Cassandra run creates a
throwaway keyspace, truncates its tables before each test and drops it at the end.
"""
from __future__ import annotations

import os
import uuid

import pytest

from recstream.store.cassandra.config import HOSTS_ENV, USERNAME_ENV, CassandraStoreConfig

NO_CASSANDRA = (f"no Cassandra configured: set {HOSTS_ENV}=host[:port],... to run the contract suite "
                "against a real cluster (none can be installed on this machine)")
BACKENDS = ["sqlite", "cassandra"]


def cassandra_test_config(keyspace: str) -> CassandraStoreConfig:
    auth = {} if os.environ.get(USERNAME_ENV) else None
    return CassandraStoreConfig(
        keyspace=keyspace, local_dc=os.environ.get("RECSTREAM_CASSANDRA_LOCAL_DC", "datacenter1"),
        write_consistency="LOCAL_ONE", read_consistency="LOCAL_ONE", auth=auth,
        retry={"max_attempts": 3, "initial_backoff_s": 0.2},
    )


@pytest.fixture(scope="session")
def cassandra_keyspace():
    if not os.environ.get(HOSTS_ENV):
        pytest.skip(NO_CASSANDRA)
    from recstream.store.cassandra.store import connect
    from recstream.store.cassandra.schema import apply_schema

    cfg = cassandra_test_config("recstream_test_" + uuid.uuid4().hex[:10])
    cluster, session = connect(cfg)
    apply_schema(session, cfg, echo=lambda _: None)
    yield cfg, session
    session.execute(f"DROP KEYSPACE IF EXISTS {cfg.keyspace}", timeout=120)
    cluster.shutdown()


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    """A fresh, empty store of each backend."""
    if request.param == "sqlite":
        from recstream.store.sqlite import SqliteStore

        st = SqliteStore(tmp_path / "store.sqlite")
    else:
        cfg, session = request.getfixturevalue("cassandra_keyspace")
        from recstream.store.cassandra.store import CassandraStore
        from recstream.store.cassandra.schema import TABLE_TTL

        for table in TABLE_TTL:
            session.execute(f"TRUNCATE {cfg.keyspace}.{table}", timeout=120)
        st = CassandraStore(cfg)
    yield st
    st.close()
