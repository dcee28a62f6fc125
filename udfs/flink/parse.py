"""Validate raw payloads; invalid ones go to the dead-letter side output.

Valid events leave as (user_id, arrival_ms, compact JSON). ``arrival_ms`` is a
per-subtask monotonic arrival clock that drives the per-user micro-batch windows.
"""
from __future__ import annotations

import time

from pyflink.common import Row
from pyflink.datastream import ProcessFunction

from udfs.events import compact, try_parse_event
from udfs.flink.types import DEAD_TAG

MAX_RAW_IN_DEAD_LETTER = 16 * 1024


class ParseEvent(ProcessFunction):
    def open(self, runtime_context):
        group = runtime_context.get_metrics_group().add_group("recstream")
        self.valid = group.counter("events_valid")
        self.invalid = group.counter("events_dead_lettered")
        self.last_arrival = 0

    def process_element(self, raw, ctx):
        event, reason = try_parse_event(raw)
        if event is None:
            self.invalid.inc()
            if isinstance(raw, (bytes, bytearray)):
                raw = raw.decode("utf-8", "replace")
            yield DEAD_TAG, Row("parse", reason, raw[:MAX_RAW_IN_DEAD_LETTER])
            return
        self.valid.inc()
        now = int(time.time() * 1000)
        if now < self.last_arrival:
            now = self.last_arrival
        self.last_arrival = now
        yield Row(event["user_id"], now, compact(event))
