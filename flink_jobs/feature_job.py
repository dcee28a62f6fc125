"""The feature job: raw events → validate → per-user micro-batches → keyed state → store.

Graph::

    source (raw JSON lines) ─ parse/validate (Python) ─┬─ dead letters ───────────┐
                                                       └─ TUMBLE per user (Java SQL, arrival time)
                                                           └─ fold into keyed UserState (Python)
                                                               ├─ late events ─────┤→ dead-letter writer
                                                               └─ feature rows ────→ store writer

Why micro-batches: a Python keyed operator costs ~90 µs per call on a 2-core box
(measured, see bench/README.md), so the Java window groups each user's events that
arrive within ``job.micro_batch_ms`` into one call. Event-time semantics (windows,
decay, lateness) are computed inside the user's state from each event's own time.

Run directly: ``python -m flink_jobs.feature_job --input events.jsonl``.
"""
from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from recstream.config import RecstreamConfig, load_config

DISCARD = "org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink"


def build_feature_job(env, t_env, cfg: RecstreamConfig, raw_stream, run_id: str, source_parallelism: int) -> None:
    """Attach the feature pipeline to ``raw_stream`` (a DataStream of raw payload strings).

    The parse operator runs at the source's parallelism so it chains to the source
    (forward): each user's events keep their source order (Kafka: key = user id) all
    the way to the keyed fold, which makes the result independent of parallelism.
    """
    from pyflink.common import Types
    from pyflink.datastream.connectors import Sink
    from pyflink.table import DataTypes, Schema

    from udfs.flink.fold import FoldUserState
    from udfs.flink.parse import ParseEvent
    from udfs.flink.sink import DeadLetterWriter, FeatureWriter
    from udfs.flink.types import DEAD_TAG, FEATURES, PARSED

    params = cfg.features.params()
    store_path = str(cfg.store.sqlite.path.resolve())

    parsed = (raw_stream.process(ParseEvent(), output_type=PARSED)
              .name("parse-validate").uid("parse-validate").set_parallelism(source_parallelism))
    dead_parse = parsed.get_side_output(DEAD_TAG)

    schema = (
        Schema.new_builder()
        .column("user_id", DataTypes.STRING())
        .column("arrival_ms", DataTypes.BIGINT())
        .column("payload", DataTypes.STRING())
        .column_by_expression("arrival", "TO_TIMESTAMP_LTZ(arrival_ms, 3)")
        .watermark("arrival", "arrival")
        .build()
    )
    t_env.create_temporary_view("valid_events", t_env.from_data_stream(parsed, schema))
    batch_s = cfg.job.micro_batch_ms / 1000.0
    batches = t_env.sql_query(
        "SELECT user_id, LISTAGG(payload, '\n') AS payloads, COUNT(*) AS n "
        f"FROM TABLE(TUMBLE(TABLE valid_events, DESCRIPTOR(arrival), INTERVAL '{batch_s:.3f}' SECOND)) "
        "GROUP BY user_id, window_start, window_end"
    )
    batch_stream = t_env.to_data_stream(batches)

    ttl_ms = int(cfg.job.state_ttl_days * 86_400_000)
    features = (
        batch_stream.key_by(lambda r: r[0], key_type=Types.STRING())
        .process(FoldUserState(params, ttl_ms), output_type=FEATURES)
        .name("fold-user-state")
        .uid("fold-user-state")
    )
    late = features.get_side_output(DEAD_TAG)

    discard = Sink(DISCARD)
    (features.map(FeatureWriter(store_path, run_id), output_type=Types.INT())
     .name("store-features").uid("store-features").set_parallelism(1)
     .sink_to(discard).name("discard-features"))
    (dead_parse.union(late).map(DeadLetterWriter(store_path, run_id), output_type=Types.INT())
     .name("store-dead-letters").uid("store-dead-letters").set_parallelism(1)
     .sink_to(discard).name("discard-dead-letters"))


def file_source_stream(env, path: Path):
    from pyflink.common import WatermarkStrategy
    from pyflink.datastream.connectors.file_system import FileSource, StreamFormat

    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(Path(path).resolve())).build()
    # One file = one split = one reader, so arrival order per user is the file order.
    return env.from_source(source, WatermarkStrategy.no_watermarks(), "replay-file").set_parallelism(1), 1


def execute_file_job(cfg: RecstreamConfig, input_path: Path, run_id: str, detached: bool = False):
    """Build and execute the feature job reading ``input_path``. Returns a JobClient when
    ``detached`` else the JobExecutionResult."""
    from flink_jobs.environment import create_environments

    env, t_env = create_environments(cfg)
    raw, source_parallelism = file_source_stream(env, input_path)
    build_feature_job(env, t_env, cfg, raw, run_id, source_parallelism)
    if detached:
        return env.execute_async(cfg.job.name)
    return env.execute(cfg.job.name)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, type=Path, help="file with one raw JSON event per line")
    ap.add_argument("--config", action="append", default=[], help="YAML config file (repeatable)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="override, e.g. job.parallelism=2")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    run_id = uuid.uuid4().hex[:12]
    result = execute_file_job(cfg, args.input, run_id)
    print(f"run {run_id} finished in {result.get_net_runtime()} ms")


if __name__ == "__main__":
    main()
