"""Vectorized (pandas/Arrow) scoring UDF and the keyed drift step.

``ScoreUsers`` is a Table API pandas scalar function: Flink hands it Arrow batches of
up to ``python.fn-execution.arrow.batch.size`` rows, and it runs the ONNX model once
per batch. One onnxruntime session per Python worker, created in ``open()``.
``TrackDrift`` keeps each user's previous embedding in keyed state and adds the
cosine distance between it and the new one.
"""
from __future__ import annotations

import json
import time

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction
from pyflink.datastream.state import ValueStateDescriptor
from pyflink.table.udf import ScalarFunction

from udfs.flink.metrics import SettableGauge
from udfs.inference import Scorer, cosine_distance


class ScoreUsers(ScalarFunction):
    def __init__(self, model_dir: str, provider: str, gpu_mem_limit_mb: int, cold_start_min_events: int,
                 threads: int | None, popular_store: dict | str | None = None, spin: bool = False) -> None:
        self.model_dir = model_dir
        self.provider = provider
        self.gpu_mem_limit_mb = gpu_mem_limit_mb
        self.cold_start_min_events = cold_start_min_events
        self.threads = threads
        self.popular_store = popular_store  # store spec: cold-start list from the item path
        self.spin = spin
        self.popular = None  # the StorePopular opened in open()

    def open(self, function_context):
        from udfs.inference import StorePopular

        self.popular = StorePopular(self.popular_store) if self.popular_store else None
        self.scorer = Scorer.load(self.model_dir, self.provider, self.gpu_mem_limit_mb, threads=self.threads,
                                  cold_start_min_events=self.cold_start_min_events, popular_source=self.popular,
                                  spin=self.spin)
        self.version = self.scorer.model.version
        import logging

        logging.getLogger("recstream").warning(
            "recstream inference: model %s version %s on %s", self.model_dir, self.version, self.scorer.provider)
        group = function_context.get_metric_group().add_group("recstream")
        self.m_rows = group.counter("inference_rows")
        self.m_batches = group.counter("inference_batches")
        self.m_cold = group.counter("inference_cold_start_rows")
        self.m_rate = group.meter("inference_rows_per_s", time_span_in_seconds=10)
        self.m_batch = group.distribution("inference_batch_size")
        self.m_latency = group.distribution("inference_latency_us")
        # pushed values, never Python gauge callbacks (see udfs/flink/metrics.py)
        self.m_last_latency = SettableGauge(group, "inference_last_latency_us")
        SettableGauge(group, "inference_on_gpu").set(1 if self.scorer.provider.startswith("CUDA") else 0)
        SettableGauge(group.add_group("provider", self.scorer.provider), "in_use").set(1)
        SettableGauge(group.add_group("model_version", self.version), "in_use").set(1)

    def eval(self, item_ids, n_applied, event_count, event_time):
        """item_ids: JSON lists of the users' last-N item ids (oldest first)."""
        import pandas as pd

        t0 = time.perf_counter()
        seqs = [json.loads(s) for s in item_ids]
        # literal arguments arrive as scalars, columns as Series
        if not hasattr(n_applied, "__len__"):
            n_applied = [n_applied] * len(seqs)
        if not hasattr(event_count, "__len__"):
            event_count = [event_count] * len(seqs)
        if not hasattr(event_time, "__len__"):
            event_time = [event_time] * len(seqs)
        for seq, n, ts in zip(seqs, n_applied, event_time):
            if n:
                self.scorer.observe_items(seq[-int(n):], int(ts))
        results = self.scorer.score(seqs, [int(c) for c in event_count])
        out = [
            json.dumps({"v": self.version, "cold": r.cold_start, "emb": r.embedding, "items": r.items,
                        "scores": r.scores}, separators=(",", ":"))
            for r in results
        ]
        n = len(out)
        dt_us = int((time.perf_counter() - t0) * 1e6)
        self.m_last_latency.set(dt_us)
        self.m_rows.inc(n)
        self.m_batches.inc()
        self.m_rate.mark_event(n)
        self.m_batch.update(n)
        self.m_latency.update(dt_us)
        cold = sum(r.cold_start for r in results)
        if cold:
            self.m_cold.inc(cold)
        return pd.Series(out)

    def close(self):
        if self.popular is not None:
            self.popular.close()


class TrackDrift(KeyedProcessFunction):
    """Adds ``drift`` (cosine distance to the previous warm embedding) to each scored row."""

    def open(self, runtime_context):
        self.prev = runtime_context.get_state(ValueStateDescriptor("prev_embedding", Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, row, ctx):
        scores = json.loads(row[9])
        drift = None
        if not scores["cold"]:
            prev = self.prev.value()
            drift = cosine_distance(prev, scores["emb"])
            self.prev.update(scores["emb"])
        scores["drift"] = drift
        yield Row(*row[:9], json.dumps(scores, separators=(",", ":")))
