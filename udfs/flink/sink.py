"""Write feature rows and dead letters to the online store, and keep run counters.

Each row is committed before the function returns, so everything upstream of a
checkpoint barrier is durable in the store when the checkpoint completes (Python
operators finish their in-flight records before the barrier passes).
"""
from __future__ import annotations

import time

from pyflink.datastream import MapFunction

from recstream.store.base import DeadLetter, FeatureRow
from recstream.store.sqlite import SqliteStore
from udfs.flink.types import subtask_index

STATS_EVERY_S = 1.0


class _StoreWriter(MapFunction):
    def __init__(self, store_path: str, run_id: str) -> None:
        self.store_path = store_path
        self.run_id = run_id

    def open(self, runtime_context):
        self.store = SqliteStore(self.store_path)
        self.subtask = subtask_index(runtime_context)
        self.stats: dict[str, int] = {}
        self.last_stats = 0.0
        self._open_metrics(runtime_context.get_metrics_group().add_group("recstream"))

    def _open_metrics(self, group) -> None:
        pass

    def _maybe_flush_stats(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last_stats >= STATS_EVERY_S:
            self.store.set_run_stats(self.run_id, {f"{k}.{self.subtask}": v for k, v in self.stats.items()})
            self.last_stats = now

    def close(self):
        if getattr(self, "store", None) is not None:
            self.stats["finished"] = 1
            self._maybe_flush_stats(force=True)
            self.store.close()


class FeatureWriter(_StoreWriter):
    def _open_metrics(self, group) -> None:
        self.rows_written = group.counter("store_rows_written")
        self.users: set[str] = set()
        self.stats.update(events_applied=0, feature_rows=0, users_updated=0, first_write_ms=0, last_write_ms=0)

    def map(self, row):
        self.store.upsert_features([FeatureRow(row[0], row[1], row[2], row[4], row[5])])
        self.rows_written.inc()
        self.users.add(row[0])
        self.stats["events_applied"] += row[3]
        self.stats["feature_rows"] += 1
        self.stats["users_updated"] = len(self.users)
        now_ms = int(time.time() * 1000)
        if not self.stats["first_write_ms"]:
            self.stats["first_write_ms"] = now_ms
        self.stats["last_write_ms"] = now_ms
        self._maybe_flush_stats()
        return 0


class DeadLetterWriter(_StoreWriter):
    def _open_metrics(self, group) -> None:
        self.written = group.counter("dead_letters_written")
        self.stats.update(dead_parse=0, dead_late=0)

    def map(self, row):
        self.store.add_dead_letters([DeadLetter(self.run_id, row[0], row[1], row[2])])
        self.written.inc()
        self.stats[f"dead_{row[0]}"] = self.stats.get(f"dead_{row[0]}", 0) + 1
        self._maybe_flush_stats()
        return 0
