"""Create, describe and delete topics with confluent-kafka's AdminClient."""
from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from recstream.kafka.clients import librdkafka_config


def admin(kafka) -> AdminClient:
    return AdminClient(librdkafka_config(kafka))


def create_topics(kafka, names: list[str], partitions: int, replication: int = 1,
                  config: dict[str, str] | None = None, timeout_s: float = 15.0) -> dict[str, str]:
    """Create each topic; returns {name: 'created' | 'exists'}; other errors raise."""
    client = admin(kafka)  # keep a reference: the futures fail if the client is collected first
    futures = client.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=replication, config=config or {}) for n in names],
        operation_timeout=timeout_s, request_timeout=timeout_s)
    outcome = {}
    for name, fut in futures.items():
        try:
            fut.result()
            outcome[name] = "created"
        except KafkaException as exc:
            if exc.args[0].name() == "TOPIC_ALREADY_EXISTS":
                outcome[name] = "exists"
            else:
                raise
    return outcome


def describe(kafka, timeout_s: float = 10.0) -> dict[str, int]:
    """{topic: partition count} for every topic the broker lists."""
    md = admin(kafka).list_topics(timeout=timeout_s)
    return {name: len(t.partitions) for name, t in sorted(md.topics.items()) if not name.startswith("__")}


def delete_topics(kafka, names: list[str], timeout_s: float = 15.0) -> None:
    client = admin(kafka)
    for fut in client.delete_topics(names, operation_timeout=timeout_s).values():
        fut.result()
