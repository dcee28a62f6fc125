"""The feature job: raw events → per-bucket micro-batches → validate + fold into keyed state → store.

Graph::

    source (raw payloads) ─ Flink SQL (Java): bucket = |HASH_CODE(JSON_VALUE(payload, user_id))| mod B, TUMBLE per bucket
        └─ validate + fold each user into its UserState (Python, one call per bucket batch, MapState per user)
              ├─ dead letters: invalid + late events ─→ dead-letter writer
              ├─ feature rows ────────────────────────→ feature writer
              └─ score inputs (model on): pandas UDF (ONNX) → drift (keyed by bucket) → score writer

Why micro-batches in Java before any Python: on a 2-core box a PyFlink Python
function costs ~50 µs per call in thread mode before it does any work (measured,
see bench/README.md), so per-event Python calls cap the job near 10k events/s, and
keyed by user, traffic of many users with one event each still pays about a millisecond
per event in Python calls and Table↔DataStream conversions (profiled). Flink SQL
routes users to ``job.user_buckets`` buckets and groups a bucket's events that arrive
within ``job.micro_batch_ms`` into one call, which folds every user in it (their states
in a MapState of the bucket). Event-time semantics (sliding windows, decay, lateness) are
computed in each user's state from each event's own time, so batching never changes results.

Run directly: ``python -m flink_jobs.feature_job --input events.jsonl``.
"""
from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from flink_jobs.environment import final_metrics_wait_ms
from flink_jobs.sql import bucket_sql, with_batch_time  # noqa: F401 - with_batch_time: the job's sources use it
from flink_jobs.state_backend import heap_state
from recstream.config import RecstreamConfig, load_config

DISCARD = "org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink"


def table_to_stream(t_env, table, parallelism: int):
    """``t_env.to_data_stream(table)``, then the environment's default parallelism put back to
    ``parallelism``. The planner's translation sets the StreamExecutionEnvironment's parallelism to
    ``table.exec.resource.default-parallelism`` (the source's, for the routing SQL), and every
    DataStream operator created afterwards (the fold, the side-output maps, the drift step) would
    silently inherit it instead of ``job.parallelism``."""
    stream = t_env.to_data_stream(table)
    stream.get_execution_environment().set_parallelism(parallelism)
    return stream


def writer_parallelism(cfg: RecstreamConfig) -> int:
    """Parallelism of the feature and dead-letter writers: ``job.parallelism`` for Cassandra (each
    writer task has its own session; rows keep their bucket's order because fold and writer then
    connect one to one), 1 for SQLite, whose single file takes one writer at a time anyway."""
    return 1 if cfg.store.kind == "sqlite" else cfg.job.parallelism


def add_job_arguments(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments every job entry point takes (``recstream submit`` passes them)."""
    ap.add_argument("--config", action="append", default=[], help="YAML config file (repeatable)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="override, e.g. job.parallelism=2")
    ap.add_argument("--run-id", default=None, help="id of this run in the store's run_stats (default: random)")
    ap.add_argument("--detached", action="store_true",
                    help="submit and return without waiting (cluster: `flink run -d`, `recstream submit`)")
    return ap


def run_job(args, execute) -> None:
    """Load the config, then ``execute(cfg, run_id, detached)``; print the job id or the runtime."""
    cfg = load_config(args.config, args.overrides)
    run_id = args.run_id or uuid.uuid4().hex[:12]
    if args.detached:
        client = execute(cfg, run_id, True)
        print(f"run {run_id} submitted as job {client.get_job_id()}")
        return
    result = execute(cfg, run_id, False)
    print(f"run {run_id} finished in {result.get_net_runtime()} ms")


def register_raw_view(t_env, raw_stream, cfg: RecstreamConfig, bounded: bool) -> str:
    """Register ``raw_stream`` (DataStream of raw payload strings) as a view (f0, batch_time).

    Bounded inputs batch on an arrival-time rowtime so the final watermark flushes
    every window at end of input; unbounded ones (Kafka) on processing time so a
    batch closes on time even when the topic goes quiet.
    """
    from pyflink.table import DataTypes, Schema

    builder = with_batch_time(Schema.new_builder().column("f0", DataTypes.STRING()), cfg, bounded)
    view = f"raw_events_{id(raw_stream)}"
    t_env.create_temporary_view(view, t_env.from_data_stream(raw_stream, builder.build()))
    return view


def bucket_batch_table(t_env, view: str, cfg: RecstreamConfig, line_based: bool = False,
                       with_origin: bool = False):
    """Table (bucket, records, n, window_start): the raw payloads of each user bucket
    (``|HASH_CODE(user_id)| mod job.user_buckets``) per micro-batch window, from a view with
    columns ``f0`` (raw payload) and ``batch_time`` (time attribute) and, ``with_origin``,
    ``origin`` (where the record came from, e.g. Kafka topic/partition/offset). Each record is
    ``<escaped user id> TAB [origin TAB] payload`` (``udfs.features.bucket_fold``), records are
    newline-joined in arrival order."""
    batch_s = cfg.job.micro_batch_ms / 1000.0
    buckets = cfg.job.user_buckets
    # Valid JSON never holds a raw newline outside whitespace, so newline is a safe separator.
    # Line-based sources (replay files) cannot carry a raw newline; others (Kafka) can, and JSON
    # allows one only as whitespace, so it is blanked out there. A null payload (a Kafka tombstone)
    # becomes '' so it is dead-lettered like any invalid record instead of vanishing from the batch.
    payload = "COALESCE(f0, '')" if line_based else "REPLACE(REPLACE(COALESCE(f0, ''), CHR(13), ' '), CHR(10), ' ')"
    if with_origin:
        payload = f"CONCAT(origin, CHR(9), {payload})"
    # the routing id, escaped as udfs.features.bucket_fold.escape_key does (backslash first)
    key = ("REPLACE(REPLACE(REPLACE(REPLACE(user_id, '\\', '\\\\'), CHR(9), CONCAT('\\', 't')), "
           "CHR(10), CONCAT('\\', 'n')), '\ufeff', CONCAT('\\', 'ufeff'))")
    t_env.create_temporary_view(f"{view}_keyed", t_env.sql_query(
        f"SELECT {bucket_sql('user_id', buckets)} AS bucket, CONCAT({key}, CHR(9), {payload}) AS rec, "
        f"batch_time FROM (SELECT COALESCE(JSON_VALUE(f0, '$.user_id'), '') AS user_id, f0, batch_time"
        f"{', origin' if with_origin else ''} FROM {view})"))
    # ARRAY_AGG + ARRAY_JOIN rather than LISTAGG: LISTAGG's accumulator re-concatenates the whole
    # string on every row (quadratic in the batch; the hottest frames in a JFR profile), ARRAY_AGG
    # appends to a list and the join happens once per window.
    return t_env.sql_query(
        "SELECT bucket, ARRAY_JOIN(ARRAY_AGG(rec), '\n') AS records, COUNT(*) AS n, window_start "
        f"FROM TABLE(TUMBLE(TABLE {view}_keyed, DESCRIPTOR(batch_time), INTERVAL '{batch_s:.3f}' SECOND)) "
        "GROUP BY bucket, window_start, window_end"
    )


def build_feature_job(env, t_env, cfg: RecstreamConfig, raw_stream, run_id: str,
                      source_parallelism: int, bounded: bool, raw_view: str | None = None,
                      line_based: bool = False, with_origin: bool = False):
    """Attach the feature pipeline to ``raw_stream`` (a DataStream of raw payload strings),
    or to an already registered view ``raw_view`` with columns (f0, batch_time[, origin]).

    The SQL part runs at the source's parallelism so it chains to the source
    (forward): each user's events keep their source order (Kafka: key = user id)
    up to the keyed fold, which makes the result independent of parallelism.
    Returns the feature-row stream (for operators added by later stages).
    """
    from pyflink.common import Types
    from pyflink.datastream.connectors import Sink

    from udfs.flink.fold import FoldUserBuckets
    from udfs.flink.sink import DeadLetterWriter, FeatureWriter, ScoreWriter
    from udfs.flink.types import BUCKET_ROWS, DEAD_TAG, SCORE_TAG, SCORED_TAG

    t_env.get_config().set("table.exec.resource.default-parallelism", str(source_parallelism))
    from udfs.flink.metrics import with_final_wait

    final_wait_ms = final_metrics_wait_ms(cfg, bounded)
    params = cfg.features.params()
    from recstream.store.factory import StoreOpener, store_spec

    store = StoreOpener(store_spec(cfg.store))  # picklable, secret-free: workers open the configured backend
    if raw_view is None:
        raw_view = register_raw_view(t_env, raw_stream, cfg, bounded)
    batch_stream = table_to_stream(t_env, bucket_batch_table(t_env, raw_view, cfg, line_based, with_origin),
                                   cfg.job.parallelism)

    ttl_ms = cfg.job.state_ttl_ms
    from udfs.features.runtime import FoldOptions, FoldRuntime

    options = FoldOptions.from_config(cfg)  # embeddings, population baseline, privacy: opened in the workers
    FoldRuntime(options, params)  # fail fast here (missing key/embeddings/baseline file) rather than in a task
    scoring = cfg.model.active()
    # cold-start users get the item path's popular list, read from the store, when the item path runs
    popular_store = StoreOpener(store.spec, read_only=True) if options.emit_items else None
    in_fold = scoring and cfg.model.runner == "fold"
    sweep = heap_state(cfg)
    features = (
        batch_stream.key_by(lambda r: r[0], key_type=Types.INT())
        .process(with_final_wait(FoldUserBuckets(
                     params, ttl_ms, cfg.job.user_buckets, with_origin, options, score_input=scoring and not in_fold,
                     # one onnxruntime thread per fold subtask unless set: a fold runs per core
                     scorer=scorer_options(cfg, popular_store, threads=1) if in_fold else None,
                     sweep_state=sweep), final_wait_ms),
                 output_type=BUCKET_ROWS)
        .name("validate-fold-user-state")
        .set_parallelism(cfg.job.parallelism)
        .uid("fold-user-buckets")  # was fold-user-state (per-user ValueState) before the bucket layout
    )
    dead = features.get_side_output(DEAD_TAG)
    if options.emit_items:  # item side output → per-item batches (SQL) → item fold → item writer
        from flink_jobs.item_graph import attach_item_features
        from udfs.flink.types import ITEM_TAG

        attach_item_features(t_env, cfg, features.get_side_output(ITEM_TAG), store, run_id, bounded,
                             cfg.job.parallelism)
    discard = Sink(DISCARD)
    writers = writer_parallelism(cfg)
    if scoring:
        scored = (features.get_side_output(SCORED_TAG) if in_fold
                  else attach_scoring(t_env, cfg, features.get_side_output(SCORE_TAG), popular_store))
        (scored.map(with_final_wait(ScoreWriter(store, run_id), final_wait_ms), output_type=Types.INT())
         .name("store-scores").uid("store-scores").set_parallelism(writers)
         .sink_to(discard).name("discard-scores"))
    (features.map(with_final_wait(FeatureWriter(store, run_id), final_wait_ms), output_type=Types.INT())
     .name("store-features").uid("store-features").set_parallelism(writers)
     .sink_to(discard).name("discard-features"))
    (dead.map(with_final_wait(DeadLetterWriter(store, run_id), final_wait_ms), output_type=Types.INT())
     .name("store-dead-letters").uid("store-dead-letters").set_parallelism(writers)
     .sink_to(discard).name("discard-dead-letters"))
    return features


def scorer_options(cfg: RecstreamConfig, popular_store=None, threads: int | None = None):
    """The scorer each worker opens (the fold's or the scoring UDF's); the model is loaded here once
    first so that a bad model file fails the submission, naming the file. ``threads``: onnxruntime
    threads when ``model.threads`` is not set (None: onnxruntime's default)."""
    from model_export.runtime import InterestModel
    from udfs.inference import ScorerOptions

    model = cfg.model
    model_dir = model.path.resolve()
    InterestModel.load(model_dir, providers=["CPUExecutionProvider"])
    return ScorerOptions(str(model_dir), model.provider, model.gpu_mem_limit_mb, model.cold_start_min_events,
                         model.threads or threads, popular_store, model.spin, model.batch_size)


def attach_scoring(t_env, cfg: RecstreamConfig, score_inputs, popular_store=None):
    """The fold's score side output (score-key and score-input lines per bucket batch) → pandas UDF
    (ONNX interest model on Arrow batches of bucket batches) → keyed drift (per bucket) → scored
    bucket batches. The features never travel this path: it carries the short score lines only,
    so the feature rows go from the fold to their writer without crossing into Java and back.
    ``popular_store``: store opener whose ``popular_items`` list serves cold-start users."""
    from pyflink.common import Types
    from pyflink.table import DataTypes
    from pyflink.table.expressions import col
    from pyflink.table.udf import udf

    from udfs.flink.score import BucketDrift, ScoreUsers
    from udfs.flink.types import SCORED_ROWS

    options = scorer_options(cfg, popular_store)
    parallelism = cfg.model.parallelism or cfg.job.parallelism
    t_env.get_config().set("table.exec.resource.default-parallelism", str(parallelism))
    score = udf(ScoreUsers(options), result_type=DataTypes.STRING(), func_type="pandas")
    table = t_env.from_data_stream(score_inputs)
    scored = table.select(col("bucket"), col("folded_ms"), col("n_users"), col("keys"),
                          score(col("score_input")).alias("scores"))
    return (table_to_stream(t_env, scored, cfg.job.parallelism)
            .key_by(lambda r: r[0], key_type=Types.INT())
            .process(BucketDrift(cfg.job.state_ttl_ms, cfg.job.user_buckets, heap_state(cfg)), output_type=SCORED_ROWS)
            .name("interest-drift").set_parallelism(cfg.job.parallelism).uid("interest-drift-buckets"))


def file_source_view(t_env, cfg: RecstreamConfig, path: Path) -> tuple[str, int]:
    """Register the replay file(s) at ``path`` as a view (``f0`` raw line, ``batch_time``) and
    return it with the source parallelism (one per file).

    Read by Flink's filesystem connector with the ``raw`` format, as JSON Lines defines lines:
    ``\\n`` ends a line and a ``\\r`` before it is dropped, while a lone ``\\r`` is ordinary
    (JSON whitespace) inside its line. The DataStream text-line reader would also end a line at a
    lone ``\\r`` and split such an event in two. One table per file, unioned: a local file is one
    split (its block size is its length), read in order by one reader, so a user's events, all
    in one file (recstream's partitioned replays split by user id), keep file order; only the
    ``*.jsonl`` files the run counts are named (``recstream.replay.replay_files``).
    """
    from pyflink.table import DataTypes, Schema, TableDescriptor

    from recstream.replay import replay_files

    files = replay_files(Path(path))
    view = f"replay_{uuid.uuid4().hex[:8]}"
    tables = []
    for i, f in enumerate(files):
        schema = with_batch_time(Schema.new_builder().column("f0", DataTypes.STRING()), cfg, bounded=True).build()
        # the table name becomes the source vertex's name in the web UI: "Source: replay-file-<i>"
        name = f"replay-file-{i}-{view}"
        t_env.create_temporary_table(f"`{name}`", TableDescriptor.for_connector("filesystem").schema(schema)
                                     .option("path", str(f.resolve())).format("raw").build())
        tables.append(f"SELECT f0, batch_time FROM `{name}`")
    t_env.create_temporary_view(view, t_env.sql_query(" UNION ALL ".join(tables)))
    return view, len(files)


def file_source_stream(t_env, cfg: RecstreamConfig, path: Path):
    """The replay file(s) at ``path`` as a DataStream of ``Row(f0)`` (the raw line), read as
    :func:`file_source_view` reads them, with the source parallelism."""
    view, parallelism = file_source_view(t_env, cfg, path)
    t_env.get_config().set("table.exec.resource.default-parallelism", str(parallelism))
    from pyflink.table.expressions import col

    return table_to_stream(t_env, t_env.from_path(view).select(col("f0")), cfg.job.parallelism), parallelism


def execute_file_job(cfg: RecstreamConfig, input_path: Path, run_id: str, detached: bool = False):
    """Build and execute the feature job reading ``input_path``. Returns a JobClient when
    ``detached`` else the JobExecutionResult."""
    from flink_jobs.environment import create_environments

    env, t_env = create_environments(cfg)
    view, source_parallelism = file_source_view(t_env, cfg, input_path)
    build_feature_job(env, t_env, cfg, None, run_id, source_parallelism, bounded=True, raw_view=view,
                      line_based=True)
    if detached:
        return env.execute_async(cfg.job.name)
    return env.execute(cfg.job.name)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, type=Path, help="file with one raw JSON event per line")
    args = add_job_arguments(ap).parse_args(argv)
    run_job(args, lambda cfg, run_id, detached: execute_file_job(cfg, args.input, run_id, detached))


if __name__ == "__main__":
    main()
