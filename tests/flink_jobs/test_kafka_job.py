"""End to end against a real Kafka-protocol broker (tansu): topic → PyFlink job → store + dead-letter topics."""
from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from recstream.cli import app
from recstream.config import load_config
from recstream.kafka.produce import produce_lines
from recstream.kafka.topics import create_topics
from recstream.sources.synthetic import SyntheticSpec, replay_lines
from recstream.store.sqlite import SqliteStore
from tests.conftest import assert_close
from tests.kafka_helpers import read_topic
from udfs.features.batch import fold_raw

pytestmark = [pytest.mark.flink, pytest.mark.kafka]

SPEC = SyntheticSpec(seed=5, n_users=50, n_items=200, n_events=2500, bot_users=1,
                     late_fraction=0.03, malformed_fraction=0.02)


def kafka_overrides(tmp, broker, jars, extra=()) -> list[str]:
    return [f"store.sqlite.path={tmp / 'store.sqlite'}", f"job.work_dir={tmp}", "job.parallelism=2",
            f"kafka.bootstrap_servers={broker.bootstrap}", f"kafka.jars_dir={jars}", "kafka.start=earliest",
            "model.enabled=false", *extra]


def kafka_cfg(tmp, broker, jars, stop_offsets, extra=()):
    return load_config(overrides=[*kafka_overrides(tmp, broker, jars, extra),
                                  f"kafka.stop_offsets={dict(stop_offsets)}"])


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
    # a tombstone (null value) must be dead-lettered, not vanish: it reads as an empty payload
    from confluent_kafka import Producer

    tomb = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    tomb.produce(cfg.kafka.topics.events, key=b"u_tomb", value=None, partition=0)
    assert tomb.flush(10) == 0
    produced.end_offsets[0] += 1
    lines.append("")
    cfg = kafka_cfg(tmp, kafka_broker, kafka_jars, produced.end_offsets)
    # as a user runs it: `recstream produce --offsets-out` wrote the stop offsets, `recstream run` reads them
    offsets = tmp / "offsets.json"
    offsets.write_text(json.dumps({str(p): o for p, o in produced.end_offsets.items()}))
    args = ["run", "--source", "kafka", "--stop-offsets", str(offsets), "--json"]
    for override in kafka_overrides(tmp, kafka_broker, kafka_jars):
        args += ["--set", override]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][-1])
    return cfg, lines, SimpleNamespace(**data, job_status=data["status"]), produced


def test_every_record_is_accounted_for(kafka_run):
    cfg, lines, summary, produced = kafka_run
    assert sum(produced.end_offsets.values()) == len(lines)  # incl. the tombstone
    assert summary.job_status == "FINISHED"
    assert summary.input == f"kafka://{cfg.kafka.bootstrap_servers}/{cfg.kafka.topics.events}"
    # counted from the stop offsets before the job starts (the progress bar's total, too)
    assert summary.events_in == len(lines)
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
    assert len([r for r in records if r["raw"] == ""]) == lines.count("")  # incl. the tombstone


def test_late_topic_has_every_late_event(kafka_run):
    cfg, lines, summary, _ = kafka_run
    _, late, _ = fold_raw(lines, cfg.features.params())
    records = read_topic(cfg.kafka.bootstrap_servers, cfg.kafka.topics.late, expect=len(late))
    assert len(records) == len(late)
    assert all(r["stage"] == "late" and r["reason"].startswith("late:") for r in records)



RESTART_SPEC = SyntheticSpec(seed=9, n_users=300, n_items=500, n_events=40_000, bot_users=2,
                             late_fraction=0.01, malformed_fraction=0.005)


def _latest_checkpoint(root):
    done = [p.parent for p in root.glob("*/chk-*/_metadata")]
    return max(done, key=lambda p: int(p.name.split("-")[1])) if done else None


def _committed(bootstrap, topic, partitions) -> int:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "restart-test"})
    try:
        return sum(max(tp.offset, 0) for tp in c.committed([TopicPartition(topic, p) for p in partitions], timeout=10))
    finally:
        c.close()


def _stored_events(cfg) -> int:
    import sqlite3

    if not cfg.store.sqlite.path.exists():
        return 0
    try:
        with SqliteStore(cfg.store.sqlite.path, read_only=True) as store:
            return sum(s["state_seq"] for s in store.iter_user_states())
    except sqlite3.OperationalError:  # the writer has not created the schema yet
        return 0


def test_restart_from_checkpoint_loses_and_doubles_nothing(kafka_broker, kafka_jars, tmp_path):
    """Streaming (unbounded) job, the production mode: cancel it mid-stream after a checkpoint, start it
    again from that checkpoint; the stored state converges to the batch fold over all events (= an
    uninterrupted run): each user's event count exact, so nothing is lost and nothing counted twice.

    Unbounded on purpose: a *bounded* KafkaSource restored from a checkpoint never finishes with the
    4.0.1 connector (FLINK-33466 / FLINK-31006, open upstream), see docs/kafka.md."""
    import time

    from flink_jobs.kafka_job import build_kafka_job

    lines = list(replay_lines(RESTART_SPEC))
    topic = "restart.events"
    base = [f"kafka.topics.events={topic}", "kafka.topics.dead_letters=restart.dead",
            "kafka.topics.late=restart.late", "kafka.group_id=restart-test", "model.enabled=true",
            # retained on cancel, as every checkpoint with a dir is
            "checkpoint.interval_ms=300", f"checkpoint.dir={tmp_path / 'chk'}", "checkpoint.min_pause_ms=0"]
    cfg = kafka_cfg(tmp_path, kafka_broker, kafka_jars, {}, base)
    cfg.kafka.stop_offsets = None  # unbounded
    create_topics(cfg.kafka, [topic], partitions=2)
    produced = produce_lines(cfg.kafka, topic, lines)
    assert produced.sent == len(lines)
    params = cfg.features.params()
    states, late, dead = fold_raw(lines, params)
    expected_events = sum(s.seq for s in states.values())

    # first run: cancelled at the first checkpoint that completes after events reached the store
    client = build_kafka_job(cfg, "run-1").execute_async(cfg.job.name)
    deadline = time.monotonic() + 240
    checkpoint = None
    after = None  # newest checkpoint when the store first showed events
    while time.monotonic() < deadline and checkpoint is None:
        time.sleep(0.05)
        status = str(client.get_job_status().result()).rsplit(".", 1)[-1]
        assert status in ("CREATED", "INITIALIZING", "RUNNING"), f"job {status} before any checkpoint"
        newest = _latest_checkpoint(tmp_path / "chk")
        if after is None:
            if _stored_events(cfg):
                after = newest.name if newest else "chk-0"
        elif newest is not None and int(newest.name.split("-")[1]) > int(after.split("-")[1]):
            checkpoint = newest
    assert checkpoint is not None, "no checkpoint completed after events were stored"
    # the source commits the checkpoint's offsets to the group asynchronously after it completed
    committed = 0
    until = time.monotonic() + 10
    while not committed and time.monotonic() < until:
        committed = _committed(kafka_broker.bootstrap, topic, produced.end_offsets)
        time.sleep(0.1)
    client.cancel().result()
    seen_first = _stored_events(cfg)
    assert 0 < seen_first < expected_events, "the first run must stop mid-stream"
    assert 0 < committed < len(lines)  # offsets are committed on checkpoints, not as records are read
    checkpoint = _latest_checkpoint(tmp_path / "chk")  # the newest one completed before the cancel

    # second run: from the checkpoint, until the store has converged (or the deadline)
    resumed = kafka_cfg(tmp_path, kafka_broker, kafka_jars, {}, base + [
        "job.flink_conf={'execution.state-recovery.path': '%s'}" % checkpoint.as_uri()])
    resumed.kafka.stop_offsets = None
    client = build_kafka_job(resumed, "run-2").execute_async(resumed.job.name)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and _stored_events(cfg) < expected_events:
            status = str(client.get_job_status().result()).rsplit(".", 1)[-1]
            assert status in ("CREATED", "INITIALIZING", "RUNNING"), f"resumed job {status}"
            time.sleep(0.5)
        time.sleep(2)  # anything counted twice would arrive now
        dead_records = read_topic(kafka_broker.bootstrap, "restart.dead", expect=len(dead))
    finally:
        client.cancel().result()

    with SqliteStore(cfg.store.sqlite.path, read_only=True) as store:
        stored = {s["user_id"]: s for s in store.iter_user_states()}
        scored = {u: store.get_top_k(u) for u in stored}
    assert set(stored) == set(states)
    for user, state in states.items():
        assert stored[user]["state_seq"] == state.seq, user  # every event counted exactly once
        assert_close(stored[user]["features"], state.features(params), path=user, rel=1e-6)
        assert scored[user] is not None and scored[user]["event_time"] == state.last_ts
    # at least once on the topic; exactly the malformed records once deduped by origin
    assert len({(r["partition"], r["offset"]) for r in dead_records}) == len(dead)
