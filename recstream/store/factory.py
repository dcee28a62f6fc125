"""Open the configured store backend, in this process or (from a picklable spec) in a Flink worker."""
from __future__ import annotations

from dataclasses import dataclass

from recstream.store.base import OnlineStore


def open_store(store_cfg, read_only: bool = False) -> OnlineStore:
    """The backend ``store_cfg.kind`` names (``store`` section of the config)."""
    if store_cfg.kind == "sqlite":
        from recstream.store.sqlite import SqliteStore

        return SqliteStore(store_cfg.sqlite.path, read_only=read_only)
    if store_cfg.kind == "cassandra":
        from recstream.store.cassandra.store import CassandraStore

        return CassandraStore(store_cfg.cassandra, read_only=read_only)
    raise ValueError(f"unknown store kind {store_cfg.kind!r}")


def store_spec(store_cfg) -> dict:
    """A plain, picklable description of the store for operators shipped to Flink workers.

    Relative SQLite paths are made absolute here (workers may run elsewhere). Secrets are
    not part of it: the Cassandra password is read from the environment or a file when
    the worker connects."""
    spec = store_cfg.model_dump(mode="json")
    spec["sqlite"]["path"] = str(store_cfg.sqlite.path.resolve())
    return spec


def open_store_spec(spec: dict | str, read_only: bool = False) -> OnlineStore:
    """Open a store from ``store_spec`` output, or from a bare SQLite path (older job graphs)."""
    from recstream.store.config import StoreConfig

    if isinstance(spec, str):
        spec = {"kind": "sqlite", "sqlite": {"path": spec}}
    return open_store(StoreConfig.model_validate(spec), read_only=read_only)


@dataclass(frozen=True)
class StoreOpener:
    """Opens the configured store when called: what the Flink graph hands its operators, so that
    operator code gets its I/O as a callable and never imports a store itself. Picklable and
    secret-free (``spec`` is :func:`store_spec` output or a bare SQLite path)."""
    spec: dict | str
    read_only: bool = False

    def __call__(self) -> OnlineStore:
        return open_store_spec(self.spec, read_only=self.read_only)
