"""Vectorized (pandas/Arrow) scoring UDF and the keyed drift step.

``ScoreUsers`` is a Table API pandas scalar function: Flink hands it Arrow batches of
bucket batches (each row: the users of one bucket micro-batch, ``udfs.features.bucket_fold``),
and it runs the ONNX model on all their users together, ``model.batch_size`` users per call.
One onnxruntime session per Python worker, created in ``open()``. ``BucketDrift`` keeps each
user's previous embedding in keyed state and adds the cosine distance between it and the new one.
"""
from __future__ import annotations

import json
import time

import orjson

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction
from pyflink.datastream.state import MapStateDescriptor
from pyflink.table.udf import ScalarFunction

from udfs.features.bucket_fold import user_line_key
from udfs.flink.metrics import SettableGauge
from udfs.flink.state import MapStateMapping, expire_after_write
from udfs.inference import Scorer, render_score, score_inputs, update_drift


class ScoreUsers(ScalarFunction):
    def __init__(self, model_dir: str, provider: str, gpu_mem_limit_mb: int, cold_start_min_events: int,
                 threads: int | None, popular_store=None, spin: bool = False,
                 batch_size: int = 1000) -> None:
        self.model_dir = model_dir
        self.batch_size = batch_size
        self.provider = provider
        self.gpu_mem_limit_mb = gpu_mem_limit_mb
        self.cold_start_min_events = cold_start_min_events
        self.threads = threads
        self.popular_store = popular_store  # store opener: cold-start list from the item path
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

    def eval(self, score_input):
        """score_input: per bucket batch, newline-joined JSON lines ``[item_ids, n_applied, last_ts,
        event_count]`` (one per user, ``udfs.features.bucket_fold``); returns per bucket batch the
        newline-joined JSON model outputs, line for line. Users of every bucket batch in the Arrow
        batch are scored together, ``batch_size`` users per model call."""
        import pandas as pd

        t0 = time.perf_counter()
        per_row = [s.split("\n") for s in score_input]
        flat = [orjson.loads(line) for lines in per_row for line in lines]
        results = score_inputs(self.scorer, flat, self.batch_size)
        for i in range(0, len(flat), self.batch_size):
            self.m_batches.inc()
            self.m_batch.update(min(self.batch_size, len(flat) - i))
        lines = [render_score(r, self.version) for r in results]
        out, pos = [], 0
        for row_lines in per_row:
            out.append("\n".join(lines[pos:pos + len(row_lines)]))
            pos += len(row_lines)
        n = len(lines)
        dt_us = int((time.perf_counter() - t0) * 1e6)
        self.m_last_latency.set(dt_us)
        self.m_rows.inc(n)
        self.m_rate.mark_event(n)
        self.m_latency.update(dt_us)
        cold = sum(r.cold_start for r in results)
        if cold:
            self.m_cold.inc(cold)
        return pd.Series(out)

    def close(self):
        if self.popular is not None:
            self.popular.close()


class BucketDrift(KeyedProcessFunction):
    """Keyed by bucket: adds each user's ``drift`` (cosine distance between the new warm embedding
    and the previous one, kept per user in a ``MapState`` under the user's store key) to a scored
    bucket batch, as a ``drifts`` column of lines (empty line: no drift)."""

    def __init__(self, ttl_ms: int) -> None:
        self.ttl_ms = ttl_ms

    def open(self, runtime_context):
        self.prev = MapStateMapping(runtime_context.get_map_state(expire_after_write(
            MapStateDescriptor("prev_embedding", Types.STRING(), Types.PICKLED_BYTE_ARRAY()), self.ttl_ms)))

    def process_element(self, row, ctx):
        drifts = []
        for line, scored in zip(row[3].split("\n"), row[4].split("\n")):
            s = json.loads(scored)
            drift = update_drift(self.prev, user_line_key(line), s["cold"], s["emb"])
            drifts.append("" if drift is None else repr(drift))
        yield Row(row[0], row[1], row[2], row[3], row[4], "\n".join(drifts))
