"""Fold a per-user micro-batch of events into the user's keyed state.

One ``ValueState`` holds the pickled :class:`UserState`, so a batch costs a single
state read and write whatever its size. Late events (behind the user's allowed
lateness) go to the dead-letter side output with their reason.
"""
from __future__ import annotations

import json

from pyflink.common import Row, Types
from pyflink.common.time import Time
from pyflink.datastream import KeyedProcessFunction
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor

from udfs.features.params import FeatureParams
from udfs.features.user_state import UserState
from udfs.flink.types import DEAD_TAG


class FoldUserState(KeyedProcessFunction):
    def __init__(self, params: FeatureParams, ttl_ms: int) -> None:
        self.params = params
        self.ttl_ms = ttl_ms

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
        self.applied = group.counter("events_applied")
        self.late = group.counter("events_late")
        self.batches = group.counter("micro_batches")
        self.batch_size = group.histogram("micro_batch_size", 1000) if hasattr(group, "histogram") else None

    def process_element(self, row, ctx):
        user_id, payloads = row[0], row[1]
        params = self.params
        state = self.state.value()
        if state is None:
            state = UserState(params)
        applied = 0
        for payload in payloads.split("\n"):
            event = json.loads(payload)
            if state.apply(event, params):
                applied += 1
            else:
                reason = (
                    f"late: event_time {event['event_time']} is more than {params.allowed_lateness_ms} ms "
                    f"behind the user's newest event time {state.last_ts}"
                )
                yield DEAD_TAG, Row("late", reason, payload)
        self.batches.inc()
        if self.batch_size is not None:
            self.batch_size.update(applied)
        if applied:
            self.applied.inc(applied)
        # late-only batches still change state (its late counter), so always write and emit
        self.state.update(state)
        yield Row(
            user_id, state.last_ts, state.seq, applied,
            json.dumps(state.features(params), separators=(",", ":")),
            json.dumps(state.sequence_snapshot(), separators=(",", ":")),
        )
        if applied < row[2]:
            self.late.inc(row[2] - applied)
