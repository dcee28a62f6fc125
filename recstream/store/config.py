"""The ``store`` config section: which backend, and each backend's settings (pydantic only, no I/O).

It lives with the stores so that they are opened from their own section and never import
:mod:`recstream.config`, which composes every section (this one included) into one config."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from recstream.store.cassandra.config import CassandraStoreConfig


class SqliteStoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path = Path("recstream-data/store.sqlite")


class StoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["sqlite", "cassandra"] = "sqlite"
    sqlite: SqliteStoreConfig = SqliteStoreConfig()
    cassandra: CassandraStoreConfig = CassandraStoreConfig()  # recstream/store/cassandra/config.py, docs/cassandra.md
