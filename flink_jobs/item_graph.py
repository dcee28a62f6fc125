"""The item path's graph: the user fold's item records → per-item-bucket micro-batches in Flink SQL →
keyed item fold → item writer (the operators and the graph's shape: ``udfs.flink.items``)."""
from __future__ import annotations

from pyflink.common import Types

from flink_jobs.environment import final_metrics_wait_ms
from flink_jobs.sql import bucket_sql, with_batch_time
from flink_jobs.state_backend import heap_state
from udfs.features.runtime import FoldOptions
from udfs.flink.items import FoldItemBuckets, ItemWriter
from udfs.flink.metrics import with_final_wait


def attach_item_features(t_env, cfg, item_records, open_store, run_id: str, bounded: bool, parallelism: int):
    """Group the item side output per item in Flink SQL and attach the item fold and writer.

    ``bounded`` inputs batch on an arrival rowtime (the final watermark flushes every
    window at end of input); unbounded ones on processing time, as the user batches do.
    ``open_store``: the writer's store opener (``recstream.store.factory.StoreOpener``)."""
    from pyflink.datastream.connectors import Sink
    from pyflink.table import DataTypes, Schema

    items_cfg = cfg.features.items
    params = cfg.features.params()
    t_env.get_config().set("table.exec.resource.default-parallelism", str(parallelism))
    builder = with_batch_time(Schema.new_builder().column("recs", DataTypes.STRING()), cfg, bounded)
    view = f"item_records_{id(item_records)}"
    t_env.create_temporary_view(view, t_env.from_data_stream(item_records, builder.build()))
    # a record's item id is its first JSON element (udfs.features.item_fold); '' never occurs
    # (the user fold only emits records of valid events) but would still land in a bucket
    bucket = bucket_sql("COALESCE(JSON_VALUE(rec, '$[0]'), '')", items_cfg.buckets)
    t_env.create_temporary_view(f"{view}_flat", t_env.sql_query(
        f"SELECT {bucket} AS bucket, "
        f"rec, batch_time FROM {view} CROSS JOIN UNNEST(SPLIT(recs, CHR(10))) AS t(rec)"))
    batch_s = items_cfg.micro_batch_ms / 1000.0
    table = t_env.sql_query(
        "SELECT bucket, ARRAY_JOIN(ARRAY_AGG(rec), CHR(10)) AS recs, COUNT(*) AS n FROM "
        f"TABLE(TUMBLE(TABLE {view}_flat, DESCRIPTOR(batch_time), INTERVAL '{batch_s:.3f}' SECOND)) "
        "GROUP BY bucket, window_start, window_end")
    options = FoldOptions.from_config(cfg)
    embeddings = options.embeddings_path if items_cfg.store_embedding else None
    ttl_ms = cfg.job.state_ttl_ms
    final_wait_ms = final_metrics_wait_ms(cfg, bounded)
    rows = (t_env.to_data_stream(table)
            .key_by(lambda r: r[0], key_type=Types.INT())
            .process(with_final_wait(FoldItemBuckets(params.items, ttl_ms, items_cfg.buckets, embeddings,
                                                     heap_state(cfg)), final_wait_ms),
                     output_type=Types.PICKLED_BYTE_ARRAY())
            .name("fold-item-state").uid("fold-item-buckets"))  # was fold-item-state (per-item ValueState)
    (rows.map(with_final_wait(ItemWriter(open_store, run_id, params.items, items_cfg.top_k,
                                         items_cfg.popular_every_s), final_wait_ms),
              output_type=Types.INT())
     .name("store-items").uid("store-items").set_parallelism(1)
     .sink_to(Sink("org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink")).name("discard-items"))
    return rows
