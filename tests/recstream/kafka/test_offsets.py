"""The record count of a bounded read (progress total, ``events_in``) against a real broker (tansu)."""
from __future__ import annotations

import json

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from recstream.config import load_config
from recstream.kafka.offsets import bounded_record_count, offset_range, start_offset
from recstream.kafka.topics import create_topics

pytestmark = pytest.mark.kafka


def _kafka(broker, topic, *extra):
    return load_config(overrides=[f"kafka.bootstrap_servers={broker.bootstrap}", f"kafka.topics.events={topic}",
                                  f"kafka.group_id=g-{topic}", *extra]).kafka


def _fill(kafka, counts: dict[int, int]) -> None:
    """``counts[p]`` records into partition p."""
    create_topics(kafka, [kafka.topics.events], partitions=len(counts))
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for p, n in counts.items():
        for i in range(n):
            producer.produce(kafka.topics.events, json.dumps({"i": i}).encode(), partition=p)
    assert producer.flush(30) == 0


def _commit(kafka, offsets: dict[int, int]) -> None:
    c = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": kafka.group_id,
                  "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(kafka.topics.events, p, o) for p, o in offsets.items()],
                 asynchronous=False)
    finally:
        c.close()


def test_unbounded_has_no_count(kafka_broker):
    assert bounded_record_count(_kafka(kafka_broker, "o.none")) is None


def test_earliest_counts_up_to_the_stop_offsets(kafka_broker):
    k = _kafka(kafka_broker, "o.earliest", "kafka.start=earliest", "kafka.stop_offsets={0: 30, 1: 12}")
    _fill(k, {0: 30, 1: 20})
    assert offset_range(k) == {0: (0, 30), 1: (0, 12)}
    assert bounded_record_count(k) == 42


def test_committed_starts_at_the_group_offsets_else_earliest(kafka_broker):
    k = _kafka(kafka_broker, "o.committed", "kafka.start=committed", "kafka.stop_offsets={0: 25, 1: 15, 2: 3}")
    _fill(k, {0: 25, 1: 15, 2: 10})
    _commit(k, {0: 20, 2: 5})
    # partition 2: committed beyond its stop offset, so nothing is read there
    assert offset_range(k) == {0: (20, 25), 1: (0, 15), 2: (5, 3)}
    assert bounded_record_count(k) == 5 + 15


def test_a_partition_without_stop_offset_stops_where_it_starts(kafka_broker):
    k = _kafka(kafka_broker, "o.partial", "kafka.start=committed", "kafka.stop_offsets={0: 8}")
    _fill(k, {0: 10, 1: 10})
    _commit(k, {1: 4})
    assert offset_range(k) == {0: (0, 8), 1: (4, 4)}
    assert bounded_record_count(k) == 8


def test_start_offset_rules():
    # (low, high) = (10, 50): retention removed offsets below 10
    assert start_offset("earliest", 10, 50, committed=30) == 10
    assert start_offset("latest", 10, 50, committed=30) == 50
    assert start_offset("committed", 10, 50, committed=30) == 30
    assert start_offset("committed", 10, 50) == 10  # nothing committed: auto.offset.reset=earliest
    assert start_offset("committed", 10, 50, committed=4) == 10  # committed offset no longer on the broker
    assert start_offset("timestamp", 10, 50, at_time=22) == 22
    assert start_offset("timestamp", 10, 50) == 50  # no record at or after the timestamp
