"""Replay raw event lines into a Kafka topic, keyed by user id, at a target rate.

Keys: the ``user_id`` of each JSON event, so a user's events share a partition and
keep their order (the job's per-user correctness depends on it). A line that is not
a JSON object with a string ``user_id`` is sent unkeyed: the job must dead-letter it,
so it is produced as is.

The end offset of each partition is taken from the delivery reports: with a broker
whose ListOffsets is not trustworthy (tansu) this is the exact bound for a bounded read.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from confluent_kafka import Producer

from recstream.kafka.clients import librdkafka_config


@dataclass
class ProduceResult:
    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    end_offsets: dict[int, int] = field(default_factory=dict)  # partition -> last offset + 1
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def key_of(line: str) -> bytes | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    user = event.get("user_id") if isinstance(event, dict) else None
    return user.encode() if isinstance(user, str) else None


def produce_lines(kafka, topic: str, lines: Iterable[str], rate: float | None = None,
                  on_progress: Callable[[int], None] | None = None, extra: dict | None = None) -> ProduceResult:
    """Send every line (``rate`` events/s, or as fast as possible) and wait for every delivery report."""
    conf = {**librdkafka_config(kafka), "linger.ms": 20, "enable.idempotence": True, "acks": "all",
            "queue.buffering.max.messages": 200_000, **(extra or {})}
    producer = Producer(conf)
    result = ProduceResult()

    def delivered(err, msg):
        if err is not None:
            result.failed += 1
            if len(result.errors) < 10:
                result.errors.append(str(err))
            return
        p = msg.partition()
        result.end_offsets[p] = max(result.end_offsets.get(p, 0), msg.offset() + 1)

    start = time.monotonic()
    for i, line in enumerate(lines):
        if rate:
            ahead = i / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        while True:
            try:
                producer.produce(topic, value=line.encode(), key=key_of(line), on_delivery=delivered)
                break
            except BufferError:  # local queue full: let deliveries drain
                producer.poll(0.05)
        result.sent += 1
        if result.sent % 1000 == 0:
            producer.poll(0)
            if on_progress:
                on_progress(result.sent)
    remaining = producer.flush(60)
    result.seconds = time.monotonic() - start
    if remaining:
        result.failed += remaining
        result.errors.append(f"{remaining} messages not delivered within 60 s")
    result.sent -= result.failed
    if on_progress:
        on_progress(result.sent + result.failed)
    return result
