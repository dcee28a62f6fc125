"""SQL pieces the job's graphs share: the micro-batch time column and the bucket of a key."""
from __future__ import annotations

from recstream.config import RecstreamConfig


def with_batch_time(builder, cfg: RecstreamConfig, bounded: bool):
    """Add the ``batch_time`` column micro-batches are cut on to a table ``Schema`` builder: an
    arrival-time rowtime with a watermark for bounded inputs (the final watermark flushes every
    window at end of input), processing time for unbounded ones (a batch closes on time when the
    source goes quiet)."""
    if not bounded:
        return builder.column_by_expression("batch_time", "PROCTIME()")
    delay_s = cfg.job.arrival_watermark_delay_ms / 1000.0
    return (builder.column_by_expression("batch_time", "CAST(CURRENT_TIMESTAMP AS TIMESTAMP_LTZ(3))")
            .watermark("batch_time", f"batch_time - INTERVAL '{delay_s:.3f}' SECOND"))


def bucket_sql(key_expr: str, buckets: int) -> str:
    """SQL for the bucket of a string key: ``|HASH_CODE(key)| mod buckets`` (users and items)."""
    return f"ABS(MOD(HASH_CODE({key_expr}), {buckets}))"
