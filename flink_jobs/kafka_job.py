"""The feature job on Kafka: events topic in; features to the store; dead letters and late events out to topics.

Graph::

    Kafka `events` (Flink SQL Kafka table: key, value, partition, offset)
        └─ the feature job of flink_jobs/feature_job.py (micro-batches → validate + fold → store)
              └─ dead letters ─┬─ parse errors ─→ Kafka `dead_letters` (reason, raw, topic/partition/offset)
                               └─ late events ──→ Kafka `late`

Time: a bounded read (``kafka.stop_offsets`` set: tests, benchmarks, backfills from
a topic) batches on an arrival-time rowtime, so the final watermark flushes every
window when the stop offsets are reached; an unbounded one batches on processing
time (a batch closes on time when the topic goes quiet) and also derives the
event-time watermark from each payload's ``event_time``, per partition with an idle
timeout, which the web UI shows as the source's watermark (the lag of the stream).
Lateness itself is decided per user in the keyed state (see udfs/features/user_state.py),
so results do not depend on how records interleave across partitions.

Delivery: the source commits its offsets to ``kafka.group_id`` on each completed
checkpoint; topic sinks are AT_LEAST_ONCE (dead-letter consumers dedupe by origin).

Run directly: ``python -m flink_jobs.kafka_job --set kafka.bootstrap_servers=host:9092``.
"""
from __future__ import annotations

import argparse
import json

from recstream.config import RecstreamConfig

EVENTS_TABLE = "kafka_events"


def source_options(cfg: RecstreamConfig) -> dict[str, str]:
    """Options of the Flink SQL Kafka table (raw key and value, so parsing stays ours)."""
    from recstream.kafka.clients import java_client_properties

    k = cfg.kafka
    opts = {
        "topic": k.topics.events,
        "key.format": "raw",
        "key.fields": "k",
        "value.format": "raw",
        "value.fields-include": "EXCEPT_KEY",
        "properties.group.id": k.group_id,
        "properties.commit.offsets.on.checkpoint": "true",
    }
    opts.update({f"properties.{key}": v for key, v in java_client_properties(k).items()})
    if k.start == "committed":
        opts["scan.startup.mode"] = "group-offsets"
        opts["properties.auto.offset.reset"] = "earliest"
    elif k.start == "timestamp":
        opts["scan.startup.mode"] = "timestamp"
        opts["scan.startup.timestamp-millis"] = str(k.start_timestamp_ms)
    else:
        opts["scan.startup.mode"] = f"{k.start}-offset"
    if k.stop_offsets is not None:
        opts["scan.bounded.mode"] = "specific-offsets"
        opts["scan.bounded.specific-offsets"] = ";".join(
            f"partition:{p},offset:{o}" for p, o in sorted(k.stop_offsets.items()))
    return opts


def register_kafka_view(t_env, cfg: RecstreamConfig) -> str:
    """Register the events topic as a view (f0, batch_time, origin) for the feature job."""
    from pyflink.table import DataTypes, Schema, TableDescriptor

    from flink_jobs.sql import with_batch_time

    k = cfg.kafka
    bounded = k.stop_offsets is not None
    builder = (Schema.new_builder()
               .column("k", DataTypes.STRING())
               .column("value", DataTypes.STRING())
               .column_by_metadata("partition", DataTypes.INT(), "partition", True)
               .column_by_metadata("offset", DataTypes.BIGINT(), "offset", True))
    builder = with_batch_time(builder, cfg, bounded)
    if not bounded:
        # COALESCE/TRY_CAST: a record without a numeric event_time must not fail the watermark
        # generator; it gets 0 (never advances the watermark) and is dead-lettered by the fold.
        delay_s = k.watermark_delay_ms / 1000.0
        builder = (builder
                   .column_by_expression(
                       "event_ts", "TO_TIMESTAMP_LTZ(COALESCE(TRY_CAST(JSON_VALUE(`value`, '$.event_time') "
                                   "AS BIGINT), 0), 3)")
                   .watermark("event_ts", f"event_ts - INTERVAL '{delay_s:.3f}' SECOND"))
        t_env.get_config().set("table.exec.source.idle-timeout", f"{k.idle_timeout_ms} ms")
    descriptor = TableDescriptor.for_connector("kafka").schema(builder.build())
    for key, value in source_options(cfg).items():
        descriptor = descriptor.option(key, value)
    t_env.create_temporary_table(EVENTS_TABLE, descriptor.build())
    topic = k.topics.events.replace("'", "''")
    view = "kafka_raw"
    t_env.create_temporary_view(view, t_env.sql_query(
        f"SELECT `value` AS f0, batch_time, "
        f"CONCAT('{topic}/', CAST(`partition` AS STRING), '/', CAST(`offset` AS STRING)) AS origin "
        f"FROM {EVENTS_TABLE}"))
    return view


def dead_letter_json(row, run_id: str) -> str:
    """The dead-letter topic's record: why, what (the payload as decoded), and where it came from."""
    topic, partition, offset = (row[3].rsplit("/", 2) + ["", "", ""])[:3] if row[3] else ("", "", "")
    return json.dumps({
        "stage": row[0], "reason": row[1], "raw": row[2], "run_id": run_id,
        "topic": topic, "partition": int(partition) if partition.isdigit() else None,
        "offset": int(offset) if offset.isdigit() else None,
    }, separators=(",", ":"))


def topic_sink(cfg: RecstreamConfig, topic: str):
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.base import DeliveryGuarantee
    from pyflink.datastream.connectors.kafka import KafkaRecordSerializationSchema, KafkaSink

    from recstream.kafka.clients import java_client_properties

    builder = (KafkaSink.builder()
               .set_bootstrap_servers(cfg.kafka.bootstrap_servers)
               .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic(topic)
                                      .set_value_serialization_schema(SimpleStringSchema()).build())
               .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE))
    for key, value in java_client_properties(cfg.kafka).items():
        builder = builder.set_property(key, value)
    return builder.build()


def attach_dead_letter_topics(cfg: RecstreamConfig, features, run_id: str) -> None:
    from pyflink.common import Types

    from udfs.flink.types import DEAD_TAG

    dead = features.get_side_output(DEAD_TAG)
    for stage, topic in (("parse", cfg.kafka.topics.dead_letters), ("late", cfg.kafka.topics.late)):
        (dead.filter(lambda r, s=stage: r[0] == s).name(f"{stage}-only")
         .map(lambda r: dead_letter_json(r, run_id), output_type=Types.STRING()).name(f"{stage}-to-json")
         .sink_to(topic_sink(cfg, topic)).name(f"kafka-{stage}-topic").uid(f"kafka-{stage}-topic"))


def build_kafka_job(cfg: RecstreamConfig, run_id: str):
    """Environments with the connector jars added and the whole job graph attached."""
    from flink_jobs.environment import create_environments
    from flink_jobs.feature_job import build_feature_job
    from recstream.kafka.jars import connector_jars

    jars = connector_jars(cfg.kafka.jars_dir)
    # via job.jars (pipeline.jars), not env.add_jars(): the table environment's class loader must
    # see the connector's table factory, and it is fixed when the environment is created
    cfg = cfg.model_copy(deep=True)
    cfg.job.jars = [*cfg.job.jars, *[p for p in jars if p not in cfg.job.jars]]
    env, t_env = create_environments(cfg)
    view = register_kafka_view(t_env, cfg)
    features = build_feature_job(env, t_env, cfg, None, run_id, cfg.job.parallelism,
                                 bounded=cfg.kafka.stop_offsets is not None, raw_view=view, with_origin=True)
    attach_dead_letter_topics(cfg, features, run_id)
    return env


def execute_kafka_job(cfg: RecstreamConfig, run_id: str, detached: bool = False):
    env = build_kafka_job(cfg, run_id)
    return env.execute_async(cfg.job.name) if detached else env.execute(cfg.job.name)


def main(argv=None) -> None:
    from flink_jobs.feature_job import add_job_arguments, run_job

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    run_job(add_job_arguments(ap).parse_args(argv), execute_kafka_job)


if __name__ == "__main__":
    main()
