"""Open the configured store backend."""
from __future__ import annotations

from recstream.store.base import OnlineStore


def open_store(store_cfg, read_only: bool = False) -> OnlineStore:
    if store_cfg.kind == "sqlite":
        from recstream.store.sqlite import SqliteStore

        return SqliteStore(store_cfg.sqlite.path, read_only=read_only)
    raise ValueError(f"unknown store kind {store_cfg.kind!r}")
