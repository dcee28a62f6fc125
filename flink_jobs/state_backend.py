"""Which state backend a job's config selects, for the operators whose expiry depends on it."""
from __future__ import annotations

from flink_jobs.environment import flink_configuration
from recstream.config import RecstreamConfig


def heap_state(cfg: RecstreamConfig) -> bool:
    """Whether the job keeps its keyed state on the heap (the default backend). There the Python
    operators sweep expired entries themselves (``udfs.flink.state.ExpirySweep``); with RocksDB its
    compaction filter removes them."""
    return flink_configuration(cfg).get("state.backend.type", "hashmap").lower() != "rocksdb"
