"""The replay producer and topic admin against a real Kafka-protocol broker (tansu)."""
import json
import time

import pytest

from recstream.config import load_config
from recstream.kafka.produce import key_of, produce_lines
from recstream.kafka.topics import create_topics, describe
from tests.kafka_helpers import read_topic

pytestmark = pytest.mark.kafka


def test_key_of():
    assert key_of('{"user_id": "u1", "x": 1}') == b"u1"
    assert key_of('{"user_id": 7}') is None
    assert key_of("[1, 2]") is None
    assert key_of("not json") is None


def test_topics_create_is_idempotent(kafka_broker):
    k = load_config(overrides=[f"kafka.bootstrap_servers={kafka_broker.bootstrap}"]).kafka
    assert create_topics(k, ["t.a", "t.b"], partitions=3) == {"t.a": "created", "t.b": "created"}
    assert create_topics(k, ["t.a"], partitions=3) == {"t.a": "exists"}
    assert describe(k)["t.a"] == 3


def test_produce_keys_by_user_keeps_each_user_in_one_partition(kafka_broker):
    from confluent_kafka import Consumer, TopicPartition

    k = load_config(overrides=[f"kafka.bootstrap_servers={kafka_broker.bootstrap}"]).kafka
    create_topics(k, ["t.keyed"], partitions=4)
    lines = [json.dumps({"user_id": f"u{i % 13}", "n": i}) for i in range(2000)] + ["junk"]
    result = produce_lines(k, "t.keyed", lines)
    assert result.sent == len(lines) and result.failed == 0
    assert sum(result.end_offsets.values()) == len(lines)
    c = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": "t", "enable.auto.commit": False})
    c.assign([TopicPartition("t.keyed", p, 0) for p in range(4)])
    partitions_of: dict[str, set] = {}
    order: dict[str, list] = {}
    got = 0
    deadline = time.monotonic() + 30
    while got < len(lines) and time.monotonic() < deadline:
        msg = c.poll(0.2)
        if msg is None or msg.error():
            continue
        got += 1
        if msg.key() is None:
            assert msg.value() == b"junk"
            continue
        user = msg.key().decode()
        partitions_of.setdefault(user, set()).add(msg.partition())
        order.setdefault(user, []).append(json.loads(msg.value())["n"])
    c.close()
    assert got == len(lines)
    assert all(len(p) == 1 for p in partitions_of.values())
    assert all(ns == sorted(ns) for ns in order.values())  # per-user order kept


def test_produce_at_a_rate(kafka_broker):
    k = load_config(overrides=[f"kafka.bootstrap_servers={kafka_broker.bootstrap}"]).kafka
    create_topics(k, ["t.rate"], partitions=1)
    result = produce_lines(k, "t.rate", [json.dumps({"user_id": "u", "n": i}) for i in range(300)], rate=200)
    assert result.sent == 300
    assert result.seconds >= 1.4  # 300 events at 200/s cannot finish in much less than 1.5 s
    assert len(read_topic(kafka_broker.bootstrap, "t.rate", expect=300)) == 300
