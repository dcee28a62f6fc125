"""How many records a bounded Kafka read covers: its stop offsets minus the offsets it starts from.

The start offsets follow the Flink Kafka source's rules for ``kafka.start``:

* ``earliest``: the partition's low watermark;
* ``latest``: its high watermark (as wrong as the source's own on brokers whose ListOffsets
  "latest" is off, such as tansu);
* ``committed``: the group's committed offset, else earliest (``auto.offset.reset``), never
  below the low watermark;
* ``timestamp``: the first offset at or after ``kafka.start_timestamp_ms``, else the high watermark
  (tansu answers the low watermark for every timestamp; the source asks the broker the same way).

A partition left out of ``kafka.stop_offsets`` stops where the source stops it: at the group's
committed offset, else the low watermark. A stop offset at or below the start reads nothing.

The result counts offsets, which equals records on plain topics; transaction markers and
compacted-away records also take offsets, so on such topics it is an upper bound.
"""
from __future__ import annotations

from confluent_kafka import Consumer, KafkaException, TopicPartition

from recstream.kafka.clients import librdkafka_config


def _partitions(consumer: Consumer, topic: str, timeout_s: float) -> list[int]:
    meta = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
    if meta.error is not None:
        raise KafkaException(meta.error)
    return sorted(meta.partitions)


def offset_range(kafka, timeout_s: float = 10.0) -> dict[int, tuple[int, int]]:
    """``{partition: (start, stop)}`` of the bounded read ``kafka`` configures (``kafka.stop_offsets`` set)."""
    if kafka.stop_offsets is None:
        raise ValueError("kafka.stop_offsets is not set: the read is unbounded")
    topic = kafka.topics.events
    consumer = Consumer({**librdkafka_config(kafka), "group.id": kafka.group_id, "enable.auto.commit": False})
    try:
        parts = _partitions(consumer, topic, timeout_s)
        marks = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s) for p in parts}
        committed = {tp.partition: tp.offset
                     for tp in consumer.committed([TopicPartition(topic, p) for p in parts], timeout=timeout_s)}
        at_time = {}
        if kafka.start == "timestamp":
            found = consumer.offsets_for_times(
                [TopicPartition(topic, p, kafka.start_timestamp_ms) for p in parts], timeout=timeout_s)
            at_time = {tp.partition: tp.offset for tp in found}
    finally:
        consumer.close()

    out = {}
    for p in parts:
        low, high = marks[p]
        start = start_offset(kafka.start, low, high, committed.get(p, -1), at_time.get(p, -1))
        unlisted = start_offset("committed", low, high, committed.get(p, -1))
        out[p] = (start, kafka.stop_offsets.get(p, unlisted))
    return out


def start_offset(mode: str, low: int, high: int, committed: int = -1, at_time: int = -1) -> int:
    """Where the source starts reading a partition with watermarks (low, high); ``committed`` /
    ``at_time``: the group's offset and the offset found for the start timestamp, -1 for none."""
    if mode == "earliest":
        return low
    if mode == "latest":
        return high
    if mode == "timestamp":
        return at_time if at_time >= 0 else high
    return max(committed, low) if committed >= 0 else low


def bounded_record_count(kafka, timeout_s: float = 10.0) -> int | None:
    """Records a bounded read will see (see the module docstring); None when the read is unbounded."""
    if kafka.stop_offsets is None:
        return None
    return sum(max(0, stop - start) for start, stop in offset_range(kafka, timeout_s).values())
