"""Write feature rows and dead letters to the online store, and keep run counters.

The writers open whatever backend the store spec names (``recstream.store.factory.store_spec``:
embedded SQLite or Cassandra; a bare path string still means SQLite) through the one
``OnlineStore`` contract. Each row is acknowledged by the store (SQLite: committed;
Cassandra: every statement acknowledged at the configured consistency, transient errors
retried with backoff) before ``map`` returns, so everything upstream of a checkpoint
barrier is durable in the store when the checkpoint completes (Python operators finish
their in-flight records before the barrier passes). When the store gives up, ``map``
raises: the task fails and restarts from its last checkpoint, and the guarded/timestamped
upserts make the replayed writes idempotent.
"""
from __future__ import annotations

import json
import time

from pyflink.datastream import MapFunction

from recstream.store.base import DeadLetter, FeatureRow, ModelVersion, ScoreRow
from recstream.store.factory import open_store_spec
from udfs.flink.metrics import SettableGauge
from udfs.flink.types import subtask_index

STATS_EVERY_S = 1.0
LATENCY_WARMUP_S = 5.0
EWMA = 0.05  # weight of the newest sample in the moving-average gauges  # latency percentiles leave out rows written in the first seconds of output
MODEL_NAME = "interest"  # model_versions partition the scores' versions are registered under


class _StoreWriter(MapFunction):
    def __init__(self, store: str | dict, run_id: str) -> None:
        """``store``: ``store_spec(cfg.store)`` (any backend) or a SQLite path."""
        self.store_spec = store
        self.run_id = run_id

    def open(self, runtime_context):
        self.store = open_store_spec(self.store_spec)
        self.subtask = subtask_index(runtime_context)
        self.stats: dict[str, int] = {}
        self.last_stats = 0.0
        group = runtime_context.get_metrics_group().add_group("recstream")
        self.write_retries = group.counter("store_write_retries")
        self._retries_seen = 0
        self._open_metrics(group)

    def _open_metrics(self, group) -> None:
        pass

    def _count_retries(self) -> None:
        retries = getattr(self.store, "retries", 0)
        if retries != self._retries_seen:
            self.write_retries.inc(retries - self._retries_seen)
            self._retries_seen = retries

    def _maybe_flush_stats(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last_stats >= STATS_EVERY_S:
            self.store.set_run_stats(self.run_id, {f"{k}.{self.subtask}": v for k, v in self.stats.items()})
            self.last_stats = now
        self._count_retries()

    def close(self):
        if getattr(self, "store", None) is not None:
            self.stats["finished"] = 1
            self._maybe_flush_stats(force=True)
            self.store.close()


class FeatureWriter(_StoreWriter):
    def _open_metrics(self, group) -> None:
        self.rows_written = group.counter("store_rows_written")
        self.users: set[str] = set()
        self.stats.update(events_applied=0, feature_rows=0, users_updated=0, first_write_ms=0, last_write_ms=0,
                          scored_rows=0, cold_start_rows=0)
        self.latencies_ms: list[int] = []
        self.model_versions: set[str] = set()
        # gauges (thread mode has no histograms): distinct users written by this subtask, and moving
        # averages of the store round trip and of micro-batch start → row stored
        self.write_ms_avg = 0.0
        self.batch_to_store_ms_avg = 0.0
        # pushed from this thread, never Python gauge callbacks (udfs/flink/metrics.py); integers
        self.g_users = SettableGauge(group, "users_updated")
        self.g_write_us = SettableGauge(group, "store_write_us_avg")
        self.g_batch_to_store = SettableGauge(group, "batch_to_store_ms_avg")

    def map(self, row):
        # row: user_id, event_time, state_seq, n_applied, event_count, batch_start_ms, features, sequence,
        #      item_ids[, scores]
        scores = None
        if len(row) > 9 and row[9]:
            s = json.loads(row[9])
            scores = ScoreRow(row[0], row[1], row[2], s["v"], s["cold"], s["emb"], s["items"], s["scores"],
                              s.get("drift"))
            self.stats["scored_rows"] += 1
            self.stats["cold_start_rows"] += int(s["cold"])
        # returns once the store acknowledged features, sequence and scores of this user
        t0 = time.perf_counter()
        self.store.upsert_users([(FeatureRow(row[0], row[1], row[2], row[6], row[7]), scores)])
        self.write_ms_avg += EWMA * ((time.perf_counter() - t0) * 1000 - self.write_ms_avg)
        self.rows_written.inc()
        now_ms = int(time.time() * 1000)
        if row[5]:
            self.batch_to_store_ms_avg += EWMA * (now_ms - row[5] - self.batch_to_store_ms_avg)
        if scores is not None and scores.model_version not in self.model_versions:
            self.store.register_model_versions([ModelVersion(MODEL_NAME, scores.model_version, now_ms)])
            self.model_versions.add(scores.model_version)
        if not self.stats["first_write_ms"]:
            self.stats["first_write_ms"] = now_ms
        self.stats["last_write_ms"] = now_ms
        if row[5] and now_ms - self.stats["first_write_ms"] >= LATENCY_WARMUP_S * 1000:
            self.latencies_ms.append(now_ms - row[5])
        self.users.add(row[0])
        self.g_users.set(len(self.users))
        self.g_write_us.set(self.write_ms_avg * 1000)
        self.g_batch_to_store.set(self.batch_to_store_ms_avg)
        self.stats["events_applied"] += row[3]
        self.stats["feature_rows"] += 1
        self.stats["users_updated"] = len(self.users)
        self._maybe_flush_stats()
        return 0

    def close(self):
        lat = sorted(getattr(self, "latencies_ms", []))
        if lat:
            self.stats["latency_p50_ms"] = lat[len(lat) // 2]
            self.stats["latency_p99_ms"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            self.stats["latency_max_ms"] = lat[-1]
        super().close()


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
