"""Vectorized (pandas/Arrow) scoring UDF and the keyed drift step.

``ScoreUsers`` is a Table API pandas scalar function: Flink hands it Arrow batches of
bucket batches (each row: the users of one bucket micro-batch, ``udfs.features.bucket_fold``),
and it runs the ONNX model on all their users together, ``model.batch_size`` users per call.
One onnxruntime session per Python worker, created in ``open()``. ``BucketDrift`` keeps each
user's previous embedding in keyed state and adds the cosine distance between it and the new one.
"""
from __future__ import annotations

import json
import logging
import time

import orjson

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction
from pyflink.datastream.state import MapStateDescriptor
from pyflink.table.udf import ScalarFunction

from udfs.features.bucket_fold import user_line_key
from udfs.flink.metrics import InferenceMetrics
from udfs.flink.state import ExpirySweep, MapStateMapping, expire_after_write
from udfs.inference import ScorerOptions, close_scorer, render_score, score_inputs, update_drift


class ScoreUsers(ScalarFunction):
    def __init__(self, options: ScorerOptions) -> None:
        """``options``: the model, provider, cold-start list and batch size (opened in ``open()``)."""
        self.options = options
        self.batch_size = options.batch_size

    def open(self, function_context):
        self.scorer = self.options.open()
        self.version = self.scorer.model.version
        logging.getLogger("recstream").warning(
            "recstream inference: model %s version %s on %s", self.options.model_dir, self.version,
            self.scorer.provider)
        group = function_context.get_metric_group().add_group("recstream")
        self.m_inference = InferenceMetrics(group, self.scorer.provider, self.version)
        # process mode (pandas UDFs always run there) also has meters and distributions
        self.m_rate = group.meter("inference_rows_per_s", time_span_in_seconds=10)
        self.m_batch = group.distribution("inference_batch_size")
        self.m_latency = group.distribution("inference_latency_us")

    def eval(self, score_input):
        """score_input: per bucket batch, newline-joined JSON lines ``[item_ids, new_item_ids, last_ts,
        event_count]`` (one per user, ``udfs.features.bucket_fold``); returns per bucket batch the
        newline-joined JSON model outputs, line for line. Users of every bucket batch in the Arrow
        batch are scored together, ``batch_size`` users per model call."""
        import pandas as pd

        t0 = time.perf_counter()
        per_row = [s.split("\n") for s in score_input]
        flat = [orjson.loads(line) for lines in per_row for line in lines]
        results = score_inputs(self.scorer, flat, self.batch_size)
        for i in range(0, len(flat), self.batch_size):
            self.m_batch.update(min(self.batch_size, len(flat) - i))
        lines = [render_score(r, self.version) for r in results]
        out, pos = [], 0
        for row_lines in per_row:
            out.append("\n".join(lines[pos:pos + len(row_lines)]))
            pos += len(row_lines)
        n = len(lines)
        dt_us = int((time.perf_counter() - t0) * 1e6)
        self.m_inference.scored(n, -(-n // self.batch_size), sum(r.cold_start for r in results), dt_us)
        self.m_rate.mark_event(n)
        self.m_latency.update(dt_us)
        return pd.Series(out)

    def close(self):
        if getattr(self, "scorer", None) is not None:
            close_scorer(self.scorer)


class BucketDrift(KeyedProcessFunction):
    """Keyed by bucket: adds each user's ``drift`` (cosine distance between the new warm embedding
    and the previous one, kept per user in a ``MapState`` under the user's store key) to a scored
    bucket batch, as a ``drifts`` column of lines (empty line: no drift)."""

    def __init__(self, ttl_ms: int, buckets: int = 1, sweep_state: bool = True) -> None:
        self.ttl_ms = ttl_ms
        self.buckets = buckets
        self.sweep_state = sweep_state

    def open(self, runtime_context):
        self.prev = MapStateMapping(runtime_context.get_map_state(expire_after_write(
            MapStateDescriptor("prev_embedding", Types.STRING(), Types.PICKLED_BYTE_ARRAY()), self.ttl_ms)))
        self.sweep = ExpirySweep(self.ttl_ms, self.buckets) if self.sweep_state else None

    def process_element(self, row, ctx):
        drifts = []
        for line, scored in zip(row[3].split("\n"), row[4].split("\n")):
            s = json.loads(scored)
            drift = update_drift(self.prev, user_line_key(line), s["cold"], s["emb"])
            drifts.append("" if drift is None else repr(drift))
        if self.sweep is not None:
            self.sweep.maybe_run(row[0], self.prev.map_state)
        yield Row(row[0], row[1], row[2], row[3], row[4], "\n".join(drifts))
