"""The Cassandra store: the serving store downstream services read (``store.kind=cassandra``).

Data model: ``schemas/cassandra.cql`` (applied by ``recstream cassandra init``).
Writes: prepared statements run asynchronously with at most ``max_in_flight``
requests outstanding (``BoundedExecutor``), token-aware routing inside the local data
centre, the configured consistency level, and ``USING TIMESTAMP`` derived from each
state's ``(event_time, state_seq)`` (``recstream.store.cassandra.ordering``) so that replays and
out-of-order writes converge to the newest state. A write method returns only when
every statement it issued was acknowledged; transient errors are retried with
backoff and, after the last attempt, raised (``StoreWriteError``), so the Flink task
fails and restarts from its checkpoint instead of dropping data.
"""
from __future__ import annotations

import json
import logging
import random
import ssl
import threading
import time
import uuid
from typing import Iterable

from recstream.store.base import (DeadLetter, FeatureRow, ItemRow, ModelVersion, OnlineStore, PopularItems,
                                  ScoreRow, StoreError)
from recstream.store.cassandra.config import CassandraStoreConfig, TlsConfig, TtlConfig
from recstream.store.cassandra.concurrency import BoundedExecutor, describe_error
from recstream.store.cassandra.ordering import write_timestamp_us

log = logging.getLogger(__name__)
READ_PROFILE = "recstream-read"
_HOUR_MS = 3_600_000


def build_ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    """Client TLS context: verifies the nodes (CA file or system CAs), optional client certificate."""
    for name in ("ca_file", "cert_file", "key_file"):
        path = getattr(tls, name)
        if path is not None and not path.is_file():
            raise StoreError(f"store.cassandra.tls.{name}: {path} is not a file")
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                         cafile=str(tls.ca_file) if tls.ca_file else None)
        ctx.check_hostname = tls.check_hostname
        ctx.verify_mode = ssl.CERT_REQUIRED
        if tls.cert_file is not None:
            ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    except ssl.SSLError as exc:
        raise StoreError(f"store.cassandra.tls: cannot load certificates: {exc.reason or exc}") from None
    return ctx


def cluster_options(cfg: CassandraStoreConfig) -> dict:
    """Keyword arguments for ``cassandra.cluster.Cluster`` (policies, auth, TLS, timeouts)."""
    from cassandra import ConsistencyLevel
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy, FallthroughRetryPolicy, TokenAwarePolicy
    from cassandra.query import dict_factory

    def profile(cl: str) -> ExecutionProfile:
        # retries happen in BoundedExecutor (with backoff and a metric), not silently in the driver
        return ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=cfg.local_dc),
                                                   shuffle_replicas=True),
            retry_policy=FallthroughRetryPolicy(),
            consistency_level=ConsistencyLevel.name_to_value[cl],
            request_timeout=cfg.request_timeout_s,
            row_factory=dict_factory,
        )

    opts: dict = {
        "contact_points": cfg.contact_points(),
        "execution_profiles": {EXEC_PROFILE_DEFAULT: profile(cfg.write_consistency),
                               READ_PROFILE: profile(cfg.read_consistency)},
        "connect_timeout": cfg.connect_timeout_s,
        "application_name": "recstream",
    }
    if cfg.protocol_version is not None:
        opts["protocol_version"] = cfg.protocol_version
    if cfg.auth is not None:
        user = cfg.auth.resolve_username()
        if not user:
            raise StoreError("store.cassandra.auth is set but no user name: set store.cassandra.auth.username "
                             "or $RECSTREAM_CASSANDRA_USERNAME")
        try:
            opts["auth_provider"] = PlainTextAuthProvider(username=user, password=cfg.auth.resolve_password())
        except ValueError as exc:
            raise StoreError(str(exc)) from None
    if cfg.tls.enabled:
        opts["ssl_context"] = build_ssl_context(cfg.tls)
    return opts


def connect(cfg: CassandraStoreConfig, keyspace: str | None = None):
    """``(cluster, session)``; raises ``StoreError`` naming the hosts (never credentials) when unreachable."""
    from cassandra.cluster import Cluster, NoHostAvailable

    try:
        opts = cluster_options(cfg)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    cluster = Cluster(**opts)
    try:
        session = cluster.connect(keyspace)
    except NoHostAvailable as exc:
        cluster.shutdown()
        hosts = ", ".join(f"{h}:{p}" for h, p in opts["contact_points"])
        reasons = "; ".join(f"{h}: {describe_error(e)}" for h, e in list(exc.errors.items())[:3])
        raise StoreError(f"cannot reach Cassandra at {hosts} ({reasons})") from None
    except Exception as exc:
        cluster.shutdown()
        raise StoreError(f"cannot open a Cassandra session: {describe_error(exc)}") from None
    return cluster, session


def statements(ks: str) -> tuple[dict[str, str], dict[str, str]]:
    """``(reads, writes)``: name -> CQL of every prepared statement on keyspace ``ks``."""
    reads = {
        "r_features": f"SELECT user_id, event_time, state_seq, features, updated_at FROM {ks}.user_features "
                      "WHERE user_id = ?",
        "r_sequence": f"SELECT sequence FROM {ks}.user_sequence WHERE user_id = ?",
        "r_scores": f"SELECT user_id, event_time, state_seq, model_version, cold_start, embedding, topk_items, "
                    f"topk_scores, drift, updated_at FROM {ks}.user_scores WHERE user_id = ?",
        "r_item": f"SELECT item_id, event_time, state_seq, features, popularity, updated_at FROM "
                  f"{ks}.item_features WHERE item_id = ?",
        "r_popular": f"SELECT scope, event_time, items, scores, updated_at FROM {ks}.popular_items "
                     "WHERE scope = ? AND shard = ?",
        "r_models": f"SELECT model_name, version, registered_at, card FROM {ks}.model_versions "
                    "WHERE model_name = ?",
        "r_dead_parts": f"SELECT hour, shard FROM {ks}.dead_letter_partitions WHERE run_id = ?",
        "r_dead": f"SELECT run_id, id, stage, reason, raw, recorded_at FROM {ks}.dead_letters "
                  "WHERE run_id = ? AND hour = ? AND shard = ? LIMIT ?",
        "r_stats": f"SELECT key, value FROM {ks}.run_stats WHERE run_id = ?",
        "r_runs": f"SELECT DISTINCT run_id FROM {ks}.run_stats",
    }
    ts_ttl = "USING TIMESTAMP ? AND TTL ?"
    writes = {
        "w_features": f"INSERT INTO {ks}.user_features (user_id, event_time, state_seq, features, updated_at) "
                      f"VALUES (?, ?, ?, ?, ?) {ts_ttl}",
        "w_sequence": f"INSERT INTO {ks}.user_sequence (user_id, event_time, state_seq, sequence, updated_at) "
                      f"VALUES (?, ?, ?, ?, ?) {ts_ttl}",
        "w_scores": f"INSERT INTO {ks}.user_scores (user_id, event_time, state_seq, model_version, cold_start, "
                    f"embedding, topk_items, topk_scores, drift, updated_at) "
                    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) {ts_ttl}",
        "w_item": f"INSERT INTO {ks}.item_features (item_id, event_time, state_seq, features, popularity, "
                  f"updated_at) VALUES (?, ?, ?, ?, ?, ?) {ts_ttl}",
        "w_popular": f"INSERT INTO {ks}.popular_items (scope, shard, event_time, items, scores, updated_at) "
                     f"VALUES (?, ?, ?, ?, ?, ?) {ts_ttl}",
        "w_model": f"INSERT INTO {ks}.model_versions (model_name, version, registered_at, card) "
                   "VALUES (?, ?, ?, ?) USING TTL ?",
        "w_dead": f"INSERT INTO {ks}.dead_letters (run_id, hour, shard, id, stage, reason, raw, recorded_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?",
        "w_dead_part": f"INSERT INTO {ks}.dead_letter_partitions (run_id, hour, shard) VALUES (?, ?, ?) "
                       "USING TTL ?",
        "w_stat": f"INSERT INTO {ks}.run_stats (run_id, key, value) VALUES (?, ?, ?) USING TTL ?",
    }
    return reads, writes


USER_TABLES = ("user_features", "user_sequence", "user_scores")  # partitioned by user_id


def delete_statements(ks: str) -> dict[str, str]:
    """table -> CQL deleting one user's partition. No ``USING TIMESTAMP``: the tombstone carries
    the coordinator's "now", later than every state write (those carry event times)."""
    return {t: f"DELETE FROM {ks}.{t} WHERE user_id = ?" for t in USER_TABLES}


# Parameters of each write statement: (statement name, bound values in marker order). Pure functions,
# so tests check them against the schema's column types without a cluster.
def state_writes(r: FeatureRow, now: int, ttl: TtlConfig) -> list[tuple[str, tuple]]:
    ts = write_timestamp_us(r.event_time, r.state_seq)
    return [
        ("w_features", (r.user_id, r.event_time, r.state_seq, r.features, now, ts, ttl.user_features_s)),
        ("w_sequence", (r.user_id, r.event_time, r.state_seq, r.sequence, now, ts, ttl.user_sequence_s)),
    ]


def score_write(s: ScoreRow, now: int, ttl: TtlConfig) -> tuple[str, tuple]:
    return ("w_scores", (s.user_id, s.event_time, s.state_seq, s.model_version, bool(s.cold_start),
                         [float(x) for x in s.embedding], [str(x) for x in s.topk_items],
                         [float(x) for x in s.topk_scores], None if s.drift is None else float(s.drift), now,
                         write_timestamp_us(s.event_time, s.state_seq), ttl.user_scores_s))


def item_write(r: ItemRow, now: int, ttl: TtlConfig) -> tuple[str, tuple]:
    return ("w_item", (r.item_id, r.event_time, r.state_seq, r.features, float(r.popularity), now,
                       write_timestamp_us(r.event_time, r.state_seq), ttl.item_features_s))


def popular_writes(p: PopularItems, now: int, ttl: TtlConfig, shards: int) -> list[tuple[str, tuple]]:
    """One copy per shard, all with the same timestamp (a reader may pick any)."""
    tail = ([str(x) for x in p.items], [float(x) for x in p.scores], now, write_timestamp_us(p.event_time, 0),
            ttl.popular_items_s)
    return [("w_popular", (p.scope, shard, p.event_time) + tail) for shard in range(shards)]


def model_write(v: ModelVersion, ttl: TtlConfig) -> tuple[str, tuple]:
    return ("w_model", (v.model_name, v.version, v.registered_at, v.card, ttl.model_versions_s))


def dead_letter_write(d: DeadLetter, hour: int, shard: int, uid: uuid.UUID, now: int,
                      ttl: TtlConfig) -> tuple[str, tuple]:
    return ("w_dead", (d.run_id, hour, shard, uid, d.stage, d.reason, d.raw, now, ttl.dead_letters_s))


def dead_partition_write(run_id: str, hour: int, shard: int, ttl: TtlConfig) -> tuple[str, tuple]:
    return ("w_dead_part", (run_id, hour, shard, ttl.dead_letters_s))


def stat_write(run_id: str, key: str, value: int, ttl: TtlConfig) -> tuple[str, tuple]:
    return ("w_stat", (run_id, key, int(value), ttl.run_stats_s))


class CassandraStore(OnlineStore):
    kind = "cassandra"

    def __init__(self, cfg: CassandraStoreConfig, read_only: bool = False) -> None:
        self.cfg = cfg
        self.read_only = read_only
        self.cluster, self.session = connect(cfg)
        self.executor = BoundedExecutor(self._submit, cfg.max_in_flight, cfg.retry)
        self._dl_seq = 0
        self._dl_partitions: set[tuple[str, int, int]] = set()
        self._dl_node = random.getrandbits(48) | (1 << 40)  # random, multicast bit set (RFC 4122 4.5)
        self._lock = threading.Lock()
        try:
            self._prepare()
        except StoreError:
            self.close()
            raise

    # --- statements -------------------------------------------------------------------------------
    def _prepare(self) -> None:
        ks = self.cfg.keyspace
        reads, writes = statements(ks)
        todo = dict(reads)
        if not self.read_only:
            todo.update(writes)
        for name, cql in todo.items():
            try:
                stmt = self.session.prepare(cql)
            except Exception as exc:
                raise StoreError(f"cannot prepare statements on keyspace {ks!r} ({describe_error(exc)}); "
                                 "create the schema with `recstream cassandra init`") from None
            stmt.is_idempotent = True  # every statement is safe to retry (timestamps / set semantics)
            setattr(self, name, stmt)

    def _submit(self, request):
        stmt, params, profile = request
        return self.session.execute_async(stmt, params, execution_profile=profile)

    def _write(self, requests: list[tuple[str, tuple]], what: str) -> None:
        """Run ``(statement name, params)`` writes; returns when all are acknowledged."""
        if self.read_only:
            raise StoreError("store opened read-only")
        if requests:
            from cassandra.cluster import EXEC_PROFILE_DEFAULT

            self.executor.run([(getattr(self, n), p, EXEC_PROFILE_DEFAULT) for n, p in requests], what=what)

    def _read(self, requests: list) -> list[list[dict]]:
        results = self.executor.run([(s, p, READ_PROFILE) for s, p in requests], what="read")
        return [list(r or []) for r in results]

    @property
    def retries(self) -> int:
        """Requests retried after a transient error since the store was opened."""
        return self.executor.retries

    # --- user states ------------------------------------------------------------------------------
    def upsert_features(self, rows: Iterable[FeatureRow]) -> int:
        now = int(time.time() * 1000)
        reqs = [q for r in rows for q in state_writes(r, now, self.cfg.ttl)]
        self._write(reqs, "feature write")
        return len(reqs) // 2

    def upsert_scores(self, rows: Iterable[ScoreRow]) -> int:
        now = int(time.time() * 1000)
        reqs = [score_write(s, now, self.cfg.ttl) for s in rows]
        self._write(reqs, "score write")
        return len(reqs)

    def upsert_users(self, users) -> int:
        now = int(time.time() * 1000)
        users = list(users)
        reqs = []
        for f, s in users:
            reqs += state_writes(f, now, self.cfg.ttl)
            if s is not None:
                reqs.append(score_write(s, now, self.cfg.ttl))
        self._write(reqs, "user write")
        return len(users)

    def get_top_k(self, user_id: str) -> dict | None:
        (rows,) = self._read([(self.r_scores, (user_id,))])
        return self._decode_scores(rows[0]) if rows else None

    @staticmethod
    def _decode_scores(row: dict) -> dict:
        return {
            "user_id": row["user_id"], "items": list(row["topk_items"] or []),
            "scores": [float(x) for x in row["topk_scores"] or []],
            "embedding": [float(x) for x in row["embedding"] or []], "model_version": row["model_version"],
            "cold_start": bool(row["cold_start"]), "event_time": row["event_time"], "state_seq": row["state_seq"],
            "drift": row["drift"], "updated_at": row["updated_at"],
        }

    def get_user_state(self, user_id: str) -> dict | None:
        feats, seq, scores = self._read([(self.r_features, (user_id,)), (self.r_sequence, (user_id,)),
                                         (self.r_scores, (user_id,))])
        if not feats:
            return None
        state = self._decode_state(feats[0], seq[0]["sequence"] if seq else None)
        if scores:
            state["scores"] = self._decode_scores(scores[0])
        return state

    def get_user_states(self, user_ids, raw_json: bool = False) -> dict[str, dict]:
        """Every read of the batch (features, sequence, scores per user) in flight at once."""
        ids = list(dict.fromkeys(user_ids))
        results = self._read([(stmt, (uid,)) for uid in ids
                              for stmt in (self.r_features, self.r_sequence, self.r_scores)])
        out = {}
        for i, uid in enumerate(ids):
            feats, seq, scores = results[3 * i:3 * i + 3]
            if feats:
                sequence = seq[0]["sequence"] if seq else None
                if raw_json:
                    f = feats[0]
                    state = {"user_id": f["user_id"], "event_time": f["event_time"], "state_seq": f["state_seq"],
                             "features": f["features"], "sequence": sequence or "[]", "updated_at": f["updated_at"]}
                else:
                    state = self._decode_state(feats[0], sequence)
                if scores:
                    state["scores"] = self._decode_scores(scores[0])
                out[uid] = state
        return out

    @staticmethod
    def _decode_state(row: dict, sequence: str | None) -> dict:
        return {
            "user_id": row["user_id"], "event_time": row["event_time"], "state_seq": row["state_seq"],
            "features": json.loads(row["features"]), "sequence": json.loads(sequence) if sequence else [],
            "updated_at": row["updated_at"],
        }

    def iter_user_states(self):
        from cassandra.query import SimpleStatement

        stmt = SimpleStatement(f"SELECT user_id, event_time, state_seq, features, updated_at "
                               f"FROM {self.cfg.keyspace}.user_features", fetch_size=500)
        page: list[dict] = []
        for row in self.session.execute(stmt, execution_profile=READ_PROFILE):
            page.append(row)
            if len(page) == 500:
                yield from self._with_sequences(page)
                page = []
        yield from self._with_sequences(page)

    def _with_sequences(self, rows: list[dict]):
        seqs = self._read([(self.r_sequence, (r["user_id"],)) for r in rows]) if rows else []
        for row, seq in zip(rows, seqs):
            yield self._decode_state(row, seq[0]["sequence"] if seq else None)

    def delete_user(self, user_id: str) -> dict[str, int | None]:
        """Tombstones the user's rows in user_features, user_sequence and user_scores (counts: rows
        that existed). Dead letters are partitioned by run and hour, not by user: they are not
        searched here and expire with their TTL (``None``)."""
        if self.read_only:
            raise StoreError("store opened read-only")
        from cassandra.cluster import EXEC_PROFILE_DEFAULT

        existed = self._read([(self.r_features, (user_id,)), (self.r_sequence, (user_id,)),
                              (self.r_scores, (user_id,))])
        deletes = getattr(self, "_deletes", None)
        if deletes is None:
            deletes = {}
            for table, cql in delete_statements(self.cfg.keyspace).items():
                stmt = self.session.prepare(cql)
                stmt.is_idempotent = True
                deletes[table] = stmt
            self._deletes = deletes
        self.executor.run([(stmt, (user_id,), EXEC_PROFILE_DEFAULT) for stmt in deletes.values()],
                          what="user delete")
        out: dict[str, int | None] = {t: len(rows) for t, rows in zip(USER_TABLES, existed)}
        out["dead_letters"] = None
        return out

    # --- items, popularity, model versions --------------------------------------------------------
    def upsert_items(self, rows: Iterable[ItemRow]) -> int:
        now = int(time.time() * 1000)
        reqs = [item_write(r, now, self.cfg.ttl) for r in rows]
        self._write(reqs, "item write")
        return len(reqs)

    def get_item(self, item_id: str) -> dict | None:
        (rows,) = self._read([(self.r_item, (item_id,))])
        if not rows:
            return None
        d = dict(rows[0])
        d["features"] = json.loads(d["features"])
        return d

    def set_popular_items(self, lists: Iterable[PopularItems]) -> None:
        now = int(time.time() * 1000)
        reqs = [q for p in lists for q in popular_writes(p, now, self.cfg.ttl, self.cfg.popular_shards)]
        self._write(reqs, "popular-items write")

    def get_popular_items(self, scope: str = "global") -> dict | None:
        shard = random.randrange(self.cfg.popular_shards)
        (rows,) = self._read([(self.r_popular, (scope, shard))])
        if not rows:
            return None
        r = rows[0]
        return {"scope": r["scope"], "event_time": r["event_time"], "items": list(r["items"] or []),
                "scores": [float(x) for x in r["scores"] or []], "updated_at": r["updated_at"]}

    def register_model_versions(self, versions: Iterable[ModelVersion]) -> None:
        reqs = [model_write(v, self.cfg.ttl) for v in versions]
        self._write(reqs, "model-version write")

    def model_versions(self, model_name: str) -> list[dict]:
        (rows,) = self._read([(self.r_models, (model_name,))])
        return [{**r, "card": json.loads(r["card"] or "{}")} for r in rows]

    # --- dead letters and run counters ------------------------------------------------------------
    def add_dead_letters(self, letters: Iterable[DeadLetter]) -> None:
        now = int(time.time() * 1000)
        hour = now // _HOUR_MS
        ttl = self.cfg.ttl
        reqs = []
        with self._lock:
            for d in letters:
                shard = self._dl_seq % self.cfg.dead_letter_shards
                self._dl_seq += 1
                key = (d.run_id, hour, shard)
                if key not in self._dl_partitions:
                    reqs.append(dead_partition_write(d.run_id, hour, shard, ttl))
                reqs.append(dead_letter_write(d, hour, shard, uuid.uuid1(node=self._dl_node), now, ttl))
                self._dl_partitions.add(key)
        try:
            self._write(reqs, "dead-letter write")
        except StoreError:
            with self._lock:  # the partition markers may not have landed: write them again next time
                self._dl_partitions.difference_update({p[:3] for n, p in reqs if n == "w_dead_part"})
            raise

    def dead_letters(self, run_id: str | None = None, limit: int = 100) -> list[dict]:
        cols = ("run_id", "stage", "reason", "raw", "recorded_at")
        if run_id is None:
            from cassandra.query import SimpleStatement

            stmt = SimpleStatement(f"SELECT {', '.join(cols)} FROM {self.cfg.keyspace}.dead_letters LIMIT %s",
                                   fetch_size=min(max(limit, 1), 5000))
            rows = self.session.execute(stmt, (int(limit),), execution_profile=READ_PROFILE)
            return [{c: r[c] for c in cols} for r in rows][:limit]
        (parts,) = self._read([(self.r_dead_parts, (run_id,))])
        hours: dict[int, list[int]] = {}
        for p in parts:
            hours.setdefault(p["hour"], []).append(p["shard"])
        out: list[dict] = []
        for hour in sorted(hours):
            want = limit - len(out)
            if want <= 0:
                break
            got = self._read([(self.r_dead, (run_id, hour, shard, want)) for shard in hours[hour]])
            rows = sorted((r for rs in got for r in rs), key=lambda r: (r["id"].time, r["id"].bytes))
            out += [{c: r[c] for c in cols} for r in rows[:want]]
        return out

    def set_run_stats(self, run_id: str, stats: dict[str, int]) -> None:
        self._write([stat_write(run_id, k, v, self.cfg.ttl) for k, v in stats.items()], "run-stats write")

    def run_stats(self, run_id: str) -> dict[str, int]:
        (rows,) = self._read([(self.r_stats, (run_id,))])
        return {r["key"]: r["value"] for r in rows}

    def run_ids(self) -> list[str]:
        (rows,) = self._read([(self.r_runs, ())])
        return sorted(r["run_id"] for r in rows)

    def close(self) -> None:
        cluster, self.cluster = getattr(self, "cluster", None), None
        if cluster is not None:
            cluster.shutdown()
