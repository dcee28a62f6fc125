"""Write feature rows and dead letters to the online store, and keep run counters.

The writers open their store with the callable the job graph hands them
(``recstream.store.factory.StoreOpener``: embedded SQLite or Cassandra) and use it through the one
``OnlineStore`` contract; the rows are ``schemas.rows``. Each row is acknowledged by the store (SQLite: committed;
Cassandra: every statement acknowledged at the configured consistency, transient errors
retried with backoff) before ``map`` returns, so everything upstream of a checkpoint
barrier is durable in the store when the checkpoint completes (Python operators finish
their in-flight records before the barrier passes). When the store gives up, ``map``
raises: the task fails and restarts from its last checkpoint, and the guarded/timestamped
upserts make the replayed writes idempotent.
"""
from __future__ import annotations

import hashlib
import json
import math
import time

import orjson

from pyflink.datastream import MapFunction

from schemas.rows import DeadLetter, FeatureRow, ModelVersion, ScoreRow
from udfs.features.bucket_fold import parse_score_key_line, parse_user_line
from udfs.flink.metrics import SettableGauge, WaitsForFinalMetrics
from udfs.flink.opening import OPEN_LOCK
from udfs.flink.types import subtask_index

STATS_EVERY_S = 1.0
STALENESS_EVERY_S = 10.0  # score staleness percentiles in run_stats (a sort of the sample) this often
LATENCY_WARMUP_S = 5.0  # latency percentiles leave out rows written in the first seconds of output
EWMA = 0.05  # weight of the newest sample in the moving-average gauges
MODEL_NAME = "interest"  # model_versions partition the scores' versions are registered under
LATENCY_SAMPLES = 100_000
EXACT_USERS = 100_000  # distinct users a writer subtask counts exactly before it switches to an estimate


class LatencySample:
    """Batch start → stored latencies (ms), one per user row, as a uniform reservoir of at most
    ``cap`` values so a long run's memory stays bounded; the maximum is exact."""

    def __init__(self, cap: int = LATENCY_SAMPLES, seed: int = 0) -> None:
        import random

        self.cap = cap
        self.values: list[int] = []
        self.n = 0
        self.max = 0
        self._rng = random.Random(seed)

    def add(self, ms: int, count: int = 1) -> None:
        self.max = max(self.max, ms)
        for _ in range(count):
            self.n += 1
            if len(self.values) < self.cap:
                self.values.append(ms)
            else:
                j = self._rng.randrange(self.n)
                if j < self.cap:
                    self.values[j] = ms

    def summary(self) -> dict[str, int]:
        lat = sorted(self.values)
        return {"latency_p50_ms": lat[len(lat) // 2], "latency_p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
                "latency_max_ms": self.max}


class DistinctCounter:
    """Distinct keys seen, in bounded memory: exact (a set) up to ``exact_cap`` keys, then a
    HyperLogLog estimate with 2**``p`` registers (relative standard error 1.04 / sqrt(2**p):
    0.8 % at the default p=14, 16 KiB). ``exact`` says which of the two ``count`` is."""

    def __init__(self, exact_cap: int = EXACT_USERS, p: int = 14) -> None:
        self.exact_cap = exact_cap
        self.p = p
        self._keys: set[str] | None = set()
        self._registers: bytearray | None = None

    @property
    def exact(self) -> bool:
        return self._keys is not None

    def add(self, key: str) -> None:
        if self._keys is not None:
            self._keys.add(key)
            if len(self._keys) > self.exact_cap:
                self._registers = bytearray(1 << self.p)
                # kept up to date per register change, so count() costs O(1) per batch
                self._inv_sum, self._zeros = float(len(self._registers)), len(self._registers)
                for k in self._keys:
                    self._add_hll(k)
                self._keys = None
        else:
            self._add_hll(key)

    def _add_hll(self, key: str) -> None:
        h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
        idx = h >> (64 - self.p)
        rest = h & ((1 << (64 - self.p)) - 1)
        rank = (64 - self.p) - rest.bit_length() + 1  # position of the first 1 bit after the index bits
        old = self._registers[idx]
        if rank > old:
            self._registers[idx] = rank
            self._inv_sum += 2.0 ** -rank - 2.0 ** -old
            self._zeros -= old == 0

    def count(self) -> int:
        if self._keys is not None:
            return len(self._keys)
        m = len(self._registers)
        est = (0.7213 / (1 + 1.079 / m)) * m * m / self._inv_sum
        if est <= 2.5 * m and self._zeros:  # small range: linear counting is the better estimate
            est = m * math.log(m / self._zeros)
        return int(round(est))


class _StoreWriter(WaitsForFinalMetrics, MapFunction):
    def __init__(self, open_store, run_id: str) -> None:
        """``open_store``: a picklable callable returning the store (``StoreOpener``), called in ``open()``."""
        self.open_store = open_store
        self.run_id = run_id

    def open(self, runtime_context):
        with OPEN_LOCK:
            self.store = self.open_store()
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
        self.wait_for_final_metrics()


class FeatureWriter(_StoreWriter):
    def _open_metrics(self, group) -> None:
        self.rows_written = group.counter("store_rows_written")
        # distinct users (bounded: exact up to EXACT_USERS per subtask, then an estimate)
        self.users = DistinctCounter()
        self.stats.update(events_applied=0, feature_rows=0, users_updated=0, users_updated_estimated=0,
                          first_write_ms=0, last_write_ms=0)
        self.latencies = LatencySample()
        # gauges (thread mode has no histograms): distinct users written by this subtask, and moving
        # averages of the store round trip and of micro-batch start → row stored
        self.write_ms_avg = 0.0
        self.batch_to_store_ms_avg = 0.0
        # pushed from this thread, never Python gauge callbacks (udfs/flink/metrics.py); integers
        self.g_users = SettableGauge(group, "users_updated")
        self.g_write_us = SettableGauge(group, "store_write_us_avg")
        self.g_batch_to_store = SettableGauge(group, "batch_to_store_ms_avg")

    def map(self, row):
        # row: bucket, batch_start_ms, n_users, users, score_input (udfs.flink.types.BUCKET_ROWS)
        batch_start_ms = row[1]
        batch, applied = [], 0
        for line in row[3].split("\n"):
            key, ts, seq, n_applied, _, features, sequence = parse_user_line(line)
            applied += n_applied
            batch.append((FeatureRow(key, ts, seq, features, sequence), None))
            self.users.add(key)
        # returns once the store acknowledged the features and sequences of the whole bucket batch
        t0 = time.perf_counter()
        self.store.upsert_users(batch)
        self.write_ms_avg += EWMA * ((time.perf_counter() - t0) * 1000 - self.write_ms_avg)
        n = len(batch)
        self.rows_written.inc(n)
        now_ms = int(time.time() * 1000)
        if batch_start_ms:
            self.batch_to_store_ms_avg += EWMA * (now_ms - batch_start_ms - self.batch_to_store_ms_avg)
        if not self.stats["first_write_ms"]:
            self.stats["first_write_ms"] = now_ms
        self.stats["last_write_ms"] = now_ms
        if batch_start_ms and now_ms - self.stats["first_write_ms"] >= LATENCY_WARMUP_S * 1000:
            self.latencies.add(now_ms - batch_start_ms, n)
        users = self.users.count()
        self.g_users.set(users)
        self.g_write_us.set(self.write_ms_avg * 1000)
        self.g_batch_to_store.set(self.batch_to_store_ms_avg)
        self.stats["events_applied"] += applied
        self.stats["feature_rows"] += n
        self.stats["users_updated"] = users
        self.stats["users_updated_estimated"] = int(not self.users.exact)
        self._maybe_flush_stats()
        return 0

    def close(self):
        lat = getattr(self, "latencies", None)
        if lat is not None and lat.n:
            self.stats.update(lat.summary())
        super().close()


class ScoreWriter(_StoreWriter):
    """Writes the scoring path's rows (embedding, top-K, model version, drift per user) and measures
    score staleness: the wall time from the fold that produced a user's state to its score being
    stored (``score_staleness_*_ms`` in run_stats, ``score_staleness_ms_avg`` gauge)."""

    def _open_metrics(self, group) -> None:
        self.rows_written = group.counter("score_rows_written")
        # input_items / unknown_items: items of the scored users' new events, and how many of them
        # the model does not know (run summary: "items unknown to the model")
        self.stats.update(scored_rows=0, cold_start_rows=0, input_items=0, unknown_items=0)
        self.staleness = LatencySample()
        self.staleness_ms_avg = 0.0
        self.staleness_at = time.monotonic()
        self.g_staleness = SettableGauge(group, "score_staleness_ms_avg")
        self.model_versions: set[str] = set()

    def map(self, row):
        # row: bucket, folded_ms, n_users, keys, scores, drifts (udfs.flink.types.SCORED_ROWS)
        rows, cold, inp, unk = [], 0, 0, 0
        for key_line, score_line, drift in zip(row[3].split("\n"), row[4].split("\n"), row[5].split("\n")):
            key, ts, seq = parse_score_key_line(key_line)
            try:
                s = orjson.loads(score_line)
            except orjson.JSONDecodeError:  # a non-finite model output, rendered by json.dumps as NaN
                s = json.loads(score_line)
            rows.append(ScoreRow(key, ts, seq, s["v"], s["cold"], s["emb"], s["items"], s["scores"],
                                 float(drift) if drift else None))
            cold += s["cold"]
            inp += s.get("inp", 0)
            unk += s.get("unk", 0)
        for version in {r.model_version for r in rows} - self.model_versions:
            self.store.register_model_versions([ModelVersion(MODEL_NAME, version, int(time.time() * 1000))])
            self.model_versions.add(version)
        self.store.upsert_scores(rows)
        n = len(rows)
        self.rows_written.inc(n)
        staleness = int(time.time() * 1000) - row[1]
        self.staleness.add(staleness, n)
        self.staleness_ms_avg += EWMA * (staleness - self.staleness_ms_avg)
        self.g_staleness.set(self.staleness_ms_avg)
        self.stats["scored_rows"] += n
        self.stats["cold_start_rows"] += cold
        self.stats["input_items"] += inp
        self.stats["unknown_items"] += unk
        if time.monotonic() - self.staleness_at >= STALENESS_EVERY_S:
            self._staleness_stats()
        self._maybe_flush_stats()
        return 0

    def _staleness_stats(self) -> None:
        self.staleness_at = time.monotonic()
        if self.staleness.n:
            self.stats.update({k.replace("latency", "score_staleness"): v for k, v in self.staleness.summary().items()})

    def close(self):
        if getattr(self, "staleness", None) is not None:
            self._staleness_stats()
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
