"""Validate and fold a per-user micro-batch of raw events into the user's keyed state.

The batch arrives as the raw payloads of one routing key (the ``user_id`` Flink SQL
extracted) joined by newlines, each optionally prefixed by its origin (Kafka
topic/partition/offset) and a tab. Each payload is validated here: invalid ones go
to the dead-letter side output with their reason and origin, late ones (behind the
user's allowed lateness) too. One ``ValueState`` holds the pickled :class:`UserState`, so
a batch costs a single state read and write whatever its size.

The optional feature parts (interactions, anomaly, content interest) live in the same
``UserState``; their run-time inputs (population baseline, item embeddings), the
pseudonymiser and the persisted-field allow-list are opened in ``open()`` from the
picklable :class:`FoldOptions` (``udfs.features.runtime``), exactly as the backfill opens
them. With item features on, each batch also emits one row on the item side output:
its applied events as compact records (``udfs.features.item_fold``), which Flink SQL
groups per item for the keyed item fold.

Privacy: with pseudonymisation on, feature rows carry the pseudonym and dead letters
the pseudonymised payload; the Flink key (and so the keyed state and its checkpoints)
is still the raw user id, because the routing key is extracted in Flink SQL, which has
no keyed hash (docs/features.md, Privacy).
"""
from __future__ import annotations

import json
import pickle
import time

from pyflink.common import Row, Types
from pyflink.common.time import Time
from pyflink.datastream import KeyedProcessFunction
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor

from udfs.events import try_parse_event
from udfs.features.anomaly import excluded
from udfs.features.item_fold import encode_record
from udfs.features.params import FeatureParams
from udfs.features.runtime import FoldOptions, FoldRuntime
from udfs.features.user_state import LATE, TYPE_INDEX, UserState
from udfs.flink.metrics import SettableGauge
from udfs.flink.types import DEAD_TAG, ITEM_TAG

MAX_RAW_IN_DEAD_LETTER = 16 * 1024
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


class FoldUserState(KeyedProcessFunction):
    def __init__(self, params: FeatureParams, ttl_ms: int, with_origin: bool = False,
                 options: FoldOptions | None = None) -> None:
        self.params = params
        self.ttl_ms = ttl_ms
        self.with_origin = with_origin
        self.options = options or FoldOptions()

    def open(self, runtime_context):
        desc = ValueStateDescriptor("user_state", Types.PICKLED_BYTE_ARRAY())
        ttl = (
            StateTtlConfig.new_builder(Time.milliseconds(self.ttl_ms))
            .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
            .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
            .build()
        )
        desc.enable_time_to_live(ttl)
        self.state = runtime_context.get_state(desc)
        group = runtime_context.get_metrics_group().add_group("recstream")
        self.m_in = group.counter("events_in")
        self.m_applied = group.counter("events_applied")
        self.m_invalid = group.counter("events_invalid")
        self.m_late = group.counter("events_late")
        self.m_batches = group.counter("micro_batches")
        self.m_excluded = group.counter("events_excluded_from_items")
        # event-time lag (wall clock - the newest event time folded) and the pickled size of a user
        # state, sampled every STATE_SIZE_EVERY batches (pickling costs about as much as a fold)
        self.lag_ms = 0
        self.state_bytes_avg = 0.0
        self.batches_seen = 0
        self.g_lag = SettableGauge(group, "event_time_lag_ms")  # pushed, see udfs/flink/metrics.py
        self.g_state_bytes = SettableGauge(group, "state_bytes_per_user_avg")
        self.rt = FoldRuntime(self.options, self.params)  # loads embeddings, population, pseudonym key
        self.emit_items = self.options.emit_items
        # histograms/distributions exist only in process mode's metric group
        if hasattr(group, "distribution"):
            self.m_batch_size = group.distribution("micro_batch_size")
        else:
            self.m_batch_size = None

    def process_element(self, row, ctx):
        key, payloads = row[0], row[1]
        params = self.params
        rt = self.rt
        state = None
        seen = applied = invalid = 0
        with_origin = self.with_origin
        origin = ""
        records = [] if self.emit_items else None
        exclude = params.anomaly_on
        n_excluded = 0
        for payload in payloads.split("\n"):
            seen += 1
            if with_origin:
                origin, _, payload = payload.partition("\t")
            event, reason = try_parse_event(payload)
            if event is not None and event["user_id"] != key:
                event, reason = None, rt.ambiguous_reason(key, event["user_id"])
            if event is None:
                invalid += 1
                yield DEAD_TAG, Row("parse", reason, rt.dead_raw(payload[:MAX_RAW_IN_DEAD_LETTER]), origin)
                continue
            if state is None:
                state = self.state.value() or UserState(params)
            verdict = state.apply_event(event, params, rt)
            if verdict != LATE:
                applied += 1
                if records is not None:
                    excl = exclude and excluded(verdict, params.anomaly)
                    n_excluded += excl
                    records.append(encode_record(event, TYPE_INDEX[event["event_type"]], excl))
            else:
                reason = (
                    f"late: event_time {event['event_time']} is more than {params.allowed_lateness_ms} ms "
                    f"behind the user's newest event time {state.last_ts}"
                )
                yield DEAD_TAG, Row("late", reason, rt.dead_raw(payload), origin)
        self.m_in.inc(seen)
        self.m_batches.inc()
        if self.m_batch_size is not None:
            self.m_batch_size.update(seen)
        if invalid:
            self.m_invalid.inc(invalid)
        if state is None:
            return
        if applied:
            self.m_applied.inc(applied)
        if n_excluded:
            self.m_excluded.inc(n_excluded)
        if seen - invalid - applied:
            self.m_late.inc(seen - invalid - applied)
        # late-only batches still change state (its late counter): always write and emit
        self.state.update(state)
        if state.last_ts is not None:
            self.lag_ms = int(time.time() * 1000) - state.last_ts
            self.g_lag.set(self.lag_ms)
        self.batches_seen += 1
        if self.batches_seen % STATE_SIZE_EVERY == 1:
            size = len(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
            self.state_bytes_avg = size if self.batches_seen == 1 else self.state_bytes_avg + 0.1 * (size - self.state_bytes_avg)
            self.g_state_bytes.set(self.state_bytes_avg)
        batch_start_ms = epoch_ms(row[3])
        yield Row(
            rt.user_key(key), state.last_ts, state.seq, applied, state.seq - state.late, batch_start_ms,
            rt.features_json(state, params),
            rt.sequence_json(state),
            # the model input alone, cheap to decode in the scoring UDF
            json.dumps(state.sequence.item_ids(), separators=(",", ":")),
        )
        if records:
            yield ITEM_TAG, Row("\n".join(records))
