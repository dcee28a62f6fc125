"""Item features in the job: the user fold's item records → per-item-bucket micro-batches in
Flink SQL → keyed item fold (Python, one call per item bucket batch) → item writer.

Graph (attached by :func:`attach_item_features`)::

    item side output (one row per user batch: its applied events as records, newline-joined)
      └─ Flink SQL (Java): UNNEST(SPLIT(recs)), item_id = JSON_VALUE(rec, '$[0]'),
         bucket = |HASH_CODE(item_id)| mod features.items.buckets,
         TUMBLE per bucket on arrival time (features.items.micro_batch_ms), ARRAY_AGG
           └─ keyed item fold (by bucket): one pickled ItemAggregate per item in the bucket's
              MapState (TTL per item)
                └─ item writer (parallelism 1): upsert_items per bucket batch (one transaction);
                   global and per-category cold-start lists (set_popular_items) every
                   features.items.popular_every_s and when the input ends

Why buckets and not items as the Flink key: as for users (``udfs.flink.fold``), every keyed
Python call and writer call costs tens of microseconds before any work, and a long tail of
items touched once per window paid it per item; a bucket batch carries every item of the
bucket that had events in the window. The bucket count is part of the state layout and is
checked on restore (``udfs.flink.state.BucketLayout``).

The records of one item meet in whatever order user batches reach the item fold; the
item's stored features do not depend on that order (``udfs.features.item_fold``), so
the backfill writes the same rows.
"""
from __future__ import annotations

import time

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, MapFunction
from pyflink.datastream.state import MapStateDescriptor

from recstream.store.base import ItemRow, PopularItems
from recstream.store.factory import open_store_spec
from udfs.flink.opening import OPEN_LOCK
from udfs.features.item_fold import PopularLists, fold_item_bucket
from udfs.features.items import ItemParams
from udfs.flink.state import BucketLayout, MapStateMapping, expire_after_write
from udfs.flink.types import subtask_index


class FoldItemBuckets(KeyedProcessFunction):
    """Fold one item bucket's batch of records into its items' :class:`ItemAggregate` (MapState of
    the bucket, keyed by item id); emit the items' store rows as one list (``udfs.flink.types.ITEM_FIELDS``)."""

    def __init__(self, params: ItemParams, ttl_ms: int, buckets: int, embeddings_path: str | None = None) -> None:
        self.params = params
        self.ttl_ms = ttl_ms
        self.buckets = buckets
        self.embeddings_path = embeddings_path

    def open(self, runtime_context):
        desc = expire_after_write(MapStateDescriptor("items", Types.STRING(), Types.PICKLED_BYTE_ARRAY()), self.ttl_ms)
        self.states = MapStateMapping(runtime_context.get_map_state(desc))
        self.layout = BucketLayout(runtime_context, "item_bucket_count", self.buckets, "features.items.buckets")
        self.embeddings = None
        if self.embeddings_path:
            from udfs.features.embeddings import EmbeddingTable

            self.embeddings = EmbeddingTable.load(self.embeddings_path)
        group = runtime_context.get_metrics_group().add_group("recstream")
        self.m_batches = group.counter("item_batches")
        self.m_records = group.counter("item_records")
        self.m_items = group.counter("item_rows")

    def process_element(self, row, ctx):
        bucket, recs, n = row[0], row[1], row[2]
        self.layout.check(bucket)
        rows = fold_item_bucket(recs, self.states, self.params, self.embeddings)
        self.m_batches.inc()
        self.m_records.inc(n)
        self.m_items.inc(len(rows))
        yield rows


class ItemWriter(MapFunction):
    """Writes item rows (acknowledged before ``map`` returns, as the feature writer) and keeps the
    cold-start lists; lists are rewritten at most every ``every_s`` seconds and at ``close``."""

    def __init__(self, store: str | dict, run_id: str, params: ItemParams, top_k: int, every_s: float) -> None:
        self.store_spec = store
        self.run_id = run_id
        self.params = params
        self.top_k = top_k
        self.every_s = every_s

    def open(self, runtime_context):
        with OPEN_LOCK:
            self.store = open_store_spec(self.store_spec)
        self.subtask = subtask_index(runtime_context)
        self.lists = PopularLists(self.params, self.top_k)
        self.last_flush = time.monotonic()
        self.rows = 0
        group = runtime_context.get_metrics_group().add_group("recstream")
        self.m_rows = group.counter("item_rows_written")
        self.m_lists = group.counter("popular_list_writes")

    def map(self, rows):
        # rows: one item bucket batch, each (item_id, event_time, state_seq, features, popularity,
        # popularity_key, category); stored in one transaction
        self.store.upsert_items([ItemRow(*r[:5]) for r in rows])
        self.m_rows.inc(len(rows))
        self.rows += len(rows)
        for r in rows:
            self.lists.update(r[0], r[5], r[6], r[1])
        if time.monotonic() - self.last_flush >= self.every_s:
            self._flush()
        return 0

    def _flush(self) -> None:
        if self.lists.dirty:
            self.store.set_popular_items([PopularItems(*lst) for lst in self.lists.lists()])
            self.m_lists.inc()
        self.store.set_run_stats(self.run_id, {f"item_rows.{self.subtask}": self.rows})
        self.last_flush = time.monotonic()

    def close(self):
        if getattr(self, "store", None) is not None:
            self._flush()
            self.store.close()


def attach_item_features(t_env, cfg, item_records, store, run_id: str, bounded: bool, parallelism: int):
    """Group the item side output per item in Flink SQL and attach the item fold and writer.

    ``bounded`` inputs batch on an arrival rowtime (the final watermark flushes every
    window at end of input); unbounded ones on processing time, as the user batches do."""
    from pyflink.datastream.connectors import Sink
    from pyflink.table import DataTypes, Schema

    items_cfg = cfg.features.items
    params = cfg.features.params()
    t_env.get_config().set("table.exec.resource.default-parallelism", str(parallelism))
    from flink_jobs.feature_job import bucket_sql, with_batch_time

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
    from udfs.features.runtime import FoldOptions

    options = FoldOptions.from_config(cfg)
    embeddings = options.embeddings_path if items_cfg.store_embedding else None
    ttl_ms = cfg.job.state_ttl_ms
    rows = (t_env.to_data_stream(table)
            .key_by(lambda r: r[0], key_type=Types.INT())
            .process(FoldItemBuckets(params.items, ttl_ms, items_cfg.buckets, embeddings),
                     output_type=Types.PICKLED_BYTE_ARRAY())
            .name("fold-item-state").uid("fold-item-buckets"))  # was fold-item-state (per-item ValueState)
    (rows.map(ItemWriter(store, run_id, params.items, items_cfg.top_k, items_cfg.popular_every_s),
              output_type=Types.INT())
     .name("store-items").uid("store-items").set_parallelism(1)
     .sink_to(Sink("org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink")).name("discard-items"))
    return rows
