"""End to end against a real Kafka-protocol broker (tansu): topic → PyFlink job → store + dead-letter topics."""
from __future__ import annotations

from collections import Counter

import pytest

from recstream.config import load_config
from recstream.kafka.produce import produce_lines
from recstream.kafka.topics import create_topics
from recstream.runner import run_kafka_local
from recstream.sources.synthetic import SyntheticSpec, replay_lines
from recstream.store.sqlite import SqliteStore
from tests.conftest import assert_close
from tests.kafka_helpers import read_topic
from udfs.features.batch import fold_raw

pytestmark = [pytest.mark.flink, pytest.mark.kafka]

SPEC = SyntheticSpec(seed=5, n_users=50, n_items=200, n_events=2500, bot_users=1,
                     late_fraction=0.03, malformed_fraction=0.02)


def kafka_cfg(tmp, broker, jars, stop_offsets, extra=()):
    return load_config(overrides=[
        f"store.sqlite.path={tmp / 'store.sqlite'}", f"job.work_dir={tmp}", "job.parallelism=2",
        f"kafka.bootstrap_servers={broker.bootstrap}", f"kafka.jars_dir={jars}", "kafka.start=earliest",
        f"kafka.stop_offsets={dict(stop_offsets)}", "model.enabled=false", *extra,
    ])


@pytest.fixture(scope="module")
def kafka_run(kafka_broker, kafka_jars, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kafka")
    lines = list(replay_lines(SPEC))
    # what a topic can carry that a line file cannot: a raw newline inside a record, binary junk
    lines[7:7] = ['{"user_id": "u_x",\n"broken', "\x00\x01\xff junk", '["not", "an", "object"]']
    cfg = kafka_cfg(tmp, kafka_broker, kafka_jars, {})
    create_topics(cfg.kafka, [cfg.kafka.topics.events], partitions=2)
    create_topics(cfg.kafka, [cfg.kafka.topics.dead_letters, cfg.kafka.topics.late], partitions=1)
    produced = produce_lines(cfg.kafka, cfg.kafka.topics.events, lines)
    assert produced.failed == 0 and produced.sent == len(lines)
    cfg = kafka_cfg(tmp, kafka_broker, kafka_jars, produced.end_offsets)
    summary = run_kafka_local(cfg, events_in=len(lines))
    return cfg, lines, summary, produced


def test_every_record_is_accounted_for(kafka_run):
    cfg, lines, summary, produced = kafka_run
    assert sum(produced.end_offsets.values()) == len(lines)
    assert summary.job_status == "FINISHED"
    _, late, dead = fold_raw(lines, cfg.features.params())
    assert summary.dead_parse == len(dead) >= 3
    assert summary.dead_late == len(late) > 0
    assert summary.events_applied + summary.dead_parse + summary.dead_late == len(lines)


def test_store_matches_batch_fold(kafka_run):
    cfg, lines, summary, _ = kafka_run
    params = cfg.features.params()
    states, _, _ = fold_raw(lines, params)
    with SqliteStore(cfg.store.sqlite.path, read_only=True) as store:
        stored = {s["user_id"]: s for s in store.iter_user_states()}
    assert set(stored) == set(states)
    for user, state in states.items():
        assert stored[user]["state_seq"] == state.seq
        assert_close(stored[user]["features"], state.features(params), path=user, rel=1e-6)


def test_dead_letter_topic_has_every_malformed_record_with_reason_and_origin(kafka_run):
    cfg, lines, summary, _ = kafka_run
    _, late, dead = fold_raw(lines, cfg.features.params())
    records = read_topic(cfg.kafka.bootstrap_servers, cfg.kafka.topics.dead_letters, expect=len(dead))
    assert len(records) == len(dead)
    assert all(r["stage"] == "parse" and r["reason"] for r in records)
    assert all(r["topic"] == cfg.kafka.topics.events and r["partition"] in (0, 1) for r in records)
    origins = Counter((r["partition"], r["offset"]) for r in records)
    assert max(origins.values()) == 1  # one record per source offset
    # the record with a raw newline arrives whole (newline blanked), with its reason
    broken = [r for r in records if r["raw"].startswith('{"user_id": "u_x", "broken')]
    assert len(broken) == 1 and "JSON" in broken[0]["reason"]


def test_late_topic_has_every_late_event(kafka_run):
    cfg, lines, summary, _ = kafka_run
    _, late, _ = fold_raw(lines, cfg.features.params())
    records = read_topic(cfg.kafka.bootstrap_servers, cfg.kafka.topics.late, expect=len(late))
    assert len(records) == len(late)
    assert all(r["stage"] == "late" and r["reason"].startswith("late:") for r in records)

