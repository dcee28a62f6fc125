"""Item features in the job: the user fold's item records → per-item-bucket micro-batches in
Flink SQL → keyed item fold (Python, one call per item bucket batch) → item writer.

Graph (attached by ``flink_jobs.item_graph.attach_item_features``)::

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

from schemas.rows import ItemRow, PopularItems
from udfs.features.item_fold import PopularLists, fold_item_bucket
from udfs.features.items import ItemParams
from udfs.flink.metrics import SettableGauge, WaitsForFinalMetrics
from udfs.flink.opening import OPEN_LOCK
from udfs.flink.state import BucketLayout, ExpirySweep, MapStateMapping, expire_after_write
from udfs.flink.types import subtask_index


class FoldItemBuckets(WaitsForFinalMetrics, KeyedProcessFunction):
    """Fold one item bucket's batch of records into its items' :class:`ItemAggregate` (MapState of
    the bucket, keyed by item id); emit the items' store rows as one list (``udfs.flink.types.ITEM_FIELDS``)."""

    def __init__(self, params: ItemParams, ttl_ms: int, buckets: int, embeddings_path: str | None = None,
                 sweep_state: bool = True) -> None:
        self.params = params
        self.sweep_state = sweep_state
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
        # items_in_state: as of each bucket's last sweep
        self.sweep = (ExpirySweep(self.ttl_ms, self.buckets, gauge=SettableGauge(group, "items_in_state"))
                      if self.sweep_state else None)

    def process_element(self, row, ctx):
        bucket, recs, n = row[0], row[1], row[2]
        self.layout.check(bucket)
        rows = fold_item_bucket(recs, self.states, self.params, self.embeddings)
        if self.sweep is not None:
            self.sweep.maybe_run(bucket, self.states.map_state)
        self.m_batches.inc()
        self.m_records.inc(n)
        self.m_items.inc(len(rows))
        yield rows

    def close(self):
        self.wait_for_final_metrics()


class ItemWriter(WaitsForFinalMetrics, MapFunction):
    """Writes item rows (acknowledged before ``map`` returns, as the feature writer) and keeps the
    cold-start lists; lists are rewritten at most every ``every_s`` seconds and at ``close``."""

    def __init__(self, open_store, run_id: str, params: ItemParams, top_k: int, every_s: float) -> None:
        """``open_store``: a picklable callable returning the store (``StoreOpener``)."""
        self.open_store = open_store
        self.run_id = run_id
        self.params = params
        self.top_k = top_k
        self.every_s = every_s

    def open(self, runtime_context):
        with OPEN_LOCK:
            self.store = self.open_store()
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
        self.wait_for_final_metrics()
