"""The rows the job writes to the online store: one dataclass per table row (``schemas/cassandra.cql``,
``schemas/store_sqlite.sql``). Plain data at the bottom layer, so the Flink operators that build
them need no store import; the store contract (``recstream.store.base``) takes and re-exports them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureRow:
    user_id: str
    event_time: int
    state_seq: int
    features: str  # JSON
    sequence: str  # JSON


@dataclass(frozen=True)
class ScoreRow:
    user_id: str
    event_time: int
    state_seq: int
    model_version: str
    cold_start: bool
    embedding: list
    topk_items: list
    topk_scores: list
    drift: float | None


@dataclass(frozen=True)
class DeadLetter:
    run_id: str
    stage: str
    reason: str
    raw: str


@dataclass(frozen=True)
class ItemRow:
    item_id: str
    event_time: int
    state_seq: int
    features: str  # JSON
    popularity: float


@dataclass(frozen=True)
class PopularItems:
    scope: str  # 'global', 'category:Drama', ...
    event_time: int
    items: list
    scores: list


@dataclass(frozen=True)
class ModelVersion:
    model_name: str
    version: str
    registered_at: int  # epoch ms
    card: str = "{}"  # JSON
