"""The Cassandra online store (``store.kind=cassandra``), one package as Feast keeps one per large
online store:

- :mod:`~recstream.store.cassandra.config`: the ``store.cassandra`` config section (pydantic, no driver)
- :mod:`~recstream.store.cassandra.schema`: ``schemas/cassandra.cql`` rendered for a keyspace, and applied
- :mod:`~recstream.store.cassandra.store`: ``CassandraStore``, the store contract on the DataStax driver
- :mod:`~recstream.store.cassandra.concurrency`: bounded in-flight requests with retries and backoff
- :mod:`~recstream.store.cassandra.ordering`: write timestamps that order states by ``(event_time, state_seq)``
"""
from recstream.store.cassandra.config import HOSTS_ENV, CassandraStoreConfig
from recstream.store.cassandra.schema import apply_schema, render_cql
from recstream.store.cassandra.store import CassandraStore, connect

__all__ = ["HOSTS_ENV", "CassandraStore", "CassandraStoreConfig", "apply_schema", "connect", "render_cql"]
