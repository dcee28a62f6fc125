"""Test helpers for reading topics back from the broker (assign, no consumer group: no join wait)."""
from __future__ import annotations

import json
import time

from confluent_kafka import Consumer, TopicPartition


def read_topic(bootstrap: str, topic: str, expect: int | None = None, idle_s: float = 3.0,
               timeout_s: float = 60.0) -> list[dict]:
    """Every record of ``topic`` as JSON, reading from the beginning of each partition until
    ``expect`` records arrived or nothing came for ``idle_s``."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "recstream-tests", "enable.auto.commit": False})
    try:
        md = c.list_topics(topic, timeout=10)
        parts = list(md.topics[topic].partitions)
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[dict] = []
        deadline = time.monotonic() + timeout_s
        last = time.monotonic()
        while time.monotonic() < deadline:
            if expect is not None and len(out) >= expect:
                # a little longer, to catch duplicates or extras
                idle_s = min(idle_s, 1.0)
            msg = c.poll(0.2)
            if msg is None:
                if time.monotonic() - last > idle_s:
                    break
                continue
            if msg.error():
                continue
            last = time.monotonic()
            out.append(json.loads(msg.value()))
        return out
    finally:
        c.close()
