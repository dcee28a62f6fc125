"""Validate and fold a micro-batch of one user *bucket* into its users' keyed states.

Flink SQL routes every event to ``bucket = |HASH_CODE(user_id)| mod job.user_buckets`` and
groups a bucket's events per micro-batch window; this operator (keyed by bucket) gets one
call per bucket batch and folds each user in it with :func:`udfs.features.bucket_fold.fold_bucket`.
A ``MapState`` per bucket holds the pickled :class:`UserState` of each user, keyed by the
store key (the pseudonym when pseudonymisation is on), with the state TTL applying per user.

Why buckets and not users as the Flink key: PyFlink costs about a millisecond per record
that crosses the Python boundary and the Table↔DataStream conversions (profiled,
bench/README.md); keyed by user, traffic of many users with one event each pays it per event.
Keyed by bucket, a call carries every user of the bucket that had events in the window.

The bucket count is part of the state layout (a user's state lives in its bucket): a
``ValueState`` per bucket records the count it was written with, and a job restored with a
different ``job.user_buckets`` fails with a message saying so instead of silently starting
users afresh.

Outputs: one row per bucket batch with its user lines (formats in
``udfs.features.bucket_fold``) for the feature writer; with scoring on, the users' score-key and
score-input lines on the score side output (the scoring path never carries the features);
invalid and late events on the dead-letter side output with their reason and origin; with item
features on, the applied events as compact records on the item side output (one row per bucket
batch).
"""
from __future__ import annotations

import logging
import pickle
import time

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction
from pyflink.datastream.state import MapStateDescriptor

from udfs.features.bucket_fold import fold_bucket, score_key_line_of
from udfs.features.params import FeatureParams
from udfs.features.runtime import FoldOptions, FoldRuntime
from udfs.flink.metrics import InferenceMetrics, SettableGauge, WaitsForFinalMetrics
from udfs.flink.opening import OPEN_LOCK
from udfs.flink.state import BucketLayout, ExpirySweep, MapStateMapping, expire_after_write
from udfs.flink.types import DEAD_TAG, ITEM_TAG, SCORE_TAG, SCORED_TAG
from udfs.inference import ScorerOptions, close_scorer, render_score, score_inputs, update_drift

STATE_SIZE_EVERY = 100


def epoch_ms(instant) -> int:
    """Epoch ms of a SQL TIMESTAMP_LTZ value: a datetime in process mode, a Java
    ``Instant`` (pemja object) in thread mode."""
    if instant is None:
        return 0
    if hasattr(instant, "timestamp"):
        return int(instant.timestamp() * 1000)
    # pemja hands over a Java object whose toString() is ISO-8601 (UTC for the window bounds)
    from datetime import datetime, timezone

    try:
        dt = datetime.fromisoformat(str(instant).replace("Z", "+00:00"))
    except ValueError:
        return 0
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


class FoldUserBuckets(WaitsForFinalMetrics, KeyedProcessFunction):
    def __init__(self, params: FeatureParams, ttl_ms: int, buckets: int, with_origin: bool = False,
                 options: FoldOptions | None = None, score_input: bool = True,
                 scorer: ScorerOptions | None = None, sweep_state: bool = True) -> None:
        """``score_input``: emit score inputs for the scoring UDF; ``scorer``: score in this operator
        instead (``model.runner=fold``), the scored rows on the scored side output. ``sweep_state``:
        remove expired user states now and then (:class:`ExpirySweep`: the heap backend; RocksDB's
        compaction filter removes them there)."""
        self.params = params
        self.ttl_ms = ttl_ms
        self.buckets = buckets
        self.with_origin = with_origin
        self.options = options or FoldOptions()
        self.scorer_options = scorer
        self.score_input = "rows" if scorer is not None else score_input
        self.sweep_state = sweep_state

    def open(self, runtime_context):
        desc = expire_after_write(MapStateDescriptor("users", Types.STRING(), Types.PICKLED_BYTE_ARRAY()), self.ttl_ms)
        self.states = MapStateMapping(runtime_context.get_map_state(desc))
        self.layout = BucketLayout(runtime_context, "bucket_count", self.buckets, "job.user_buckets")
        group = runtime_context.get_metrics_group().add_group("recstream")
        self.m_in = group.counter("events_in")
        self.m_applied = group.counter("events_applied")
        self.m_invalid = group.counter("events_invalid")
        self.m_late = group.counter("events_late")
        self.m_batches = group.counter("micro_batches")
        self.m_users = group.counter("user_batches")
        self.m_excluded = group.counter("events_excluded_from_items")
        # event-time lag (wall clock - the newest event time folded) and the pickled size of a user
        # state, sampled every STATE_SIZE_EVERY batches (pickling costs about as much as a fold)
        self.lag_ms = 0
        self.state_bytes_avg = 0.0
        self.batches_seen = 0
        self.g_lag = SettableGauge(group, "event_time_lag_ms")  # pushed, see udfs/flink/metrics.py
        self.g_state_bytes = SettableGauge(group, "state_bytes_per_user_avg")
        self.g_users_per_batch = SettableGauge(group, "users_per_micro_batch")
        # users_in_state: as of each bucket's last sweep
        self.sweep = (ExpirySweep(self.ttl_ms, self.buckets, gauge=SettableGauge(group, "users_in_state"))
                      if self.sweep_state else None)
        self.rt = FoldRuntime(self.options, self.params)  # loads embeddings, population, pseudonym key
        self.emit_items = self.options.emit_items
        # histograms/distributions exist only in process mode's metric group
        self.m_batch_size = group.distribution("micro_batch_size") if hasattr(group, "distribution") else None
        self.scorer = None
        if self.scorer_options is not None:
            with OPEN_LOCK:
                self.scorer = self.scorer_options.open()
            self.version = self.scorer.model.version
            self.prev = MapStateMapping(runtime_context.get_map_state(expire_after_write(
                MapStateDescriptor("prev_embedding", Types.STRING(), Types.PICKLED_BYTE_ARRAY()), self.ttl_ms)))
            logging.getLogger("recstream").warning("recstream inference (in the fold): model %s version %s on %s",
                                                   self.scorer_options.model_dir, self.version, self.scorer.provider)
            self.m_inference = InferenceMetrics(group, self.scorer.provider, self.version)

    def process_element(self, row, ctx):
        bucket, records = row[0], row[1]
        self.layout.check(bucket)
        res = fold_bucket(records, self.states, self.params, self.rt, self.with_origin, self.emit_items,
                          self.score_input)
        for stage, reason, raw, origin in res.dead:
            yield DEAD_TAG, Row(stage, reason, raw, origin)
        if self.sweep is not None:
            drift_state = [self.prev.map_state] if self.scorer is not None else []
            self.sweep.maybe_run(bucket, self.states.map_state, *drift_state)
        self.m_in.inc(res.seen)
        self.m_batches.inc()
        if self.m_batch_size is not None:
            self.m_batch_size.update(res.seen)
        if res.invalid:
            self.m_invalid.inc(res.invalid)
        if res.late:
            self.m_late.inc(res.late)
        if res.excluded:
            self.m_excluded.inc(res.excluded)
        n_users = len(res.user_lines)
        if not n_users:
            return
        self.m_users.inc(n_users)
        self.g_users_per_batch.set(n_users)
        if res.applied:
            self.m_applied.inc(res.applied)
        if res.newest_ts is not None:
            self.lag_ms = int(time.time() * 1000) - res.newest_ts
            self.g_lag.set(self.lag_ms)
        self.batches_seen += 1
        if self.batches_seen % STATE_SIZE_EVERY == 1:
            size = len(pickle.dumps(res.last_state, protocol=pickle.HIGHEST_PROTOCOL))
            self.state_bytes_avg = size if self.batches_seen == 1 else self.state_bytes_avg + 0.1 * (size - self.state_bytes_avg)
            self.g_state_bytes.set(self.state_bytes_avg)
        yield Row(bucket, epoch_ms(row[3]), n_users, "\n".join(res.user_lines), "")
        if res.score_rows:
            yield SCORED_TAG, self._score(bucket, res.score_rows)
        if res.score_lines:
            yield SCORE_TAG, Row(bucket, int(time.time() * 1000), len(res.score_lines), "\n".join(res.score_keys),
                                 "\n".join(res.score_lines))
        if res.item_records:
            yield ITEM_TAG, Row("\n".join(res.item_records))

    def _score(self, bucket: int, rows: list[tuple]) -> Row:
        """The model on this bucket batch's users (``batch_size`` per call), their drifts against
        the embeddings kept in this operator's state, as a scored row for the score writer."""
        t0 = time.perf_counter()
        results = score_inputs(self.scorer, [(r[3], r[4], r[1], r[5]) for r in rows], self.scorer_options.batch_size)
        keys, lines, drifts, cold = [], [], [], 0
        for (key, ts, seq, *_), res in zip(rows, results):
            keys.append(score_key_line_of(key, ts, seq))
            lines.append(render_score(res, self.version))
            drift = update_drift(self.prev, key, res.cold_start, res.embedding)
            drifts.append("" if drift is None else repr(drift))
            cold += res.cold_start
        n = len(rows)
        self.m_inference.scored(n, -(-n // self.scorer_options.batch_size), cold,
                                int((time.perf_counter() - t0) * 1e6))
        return Row(bucket, int(time.time() * 1000), n, "\n".join(keys), "\n".join(lines), "\n".join(drifts))

    def close(self):
        if getattr(self, "scorer", None) is not None:
            close_scorer(self.scorer)
        self.wait_for_final_metrics()
