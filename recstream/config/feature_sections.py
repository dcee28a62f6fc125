"""Config sections for the interaction, item, anomaly and content features and for
privacy (``features.interactions``, ``features.items``, ``features.anomaly``,
``features.content``, ``privacy``). Each feature section maps onto the plain
parameter dataclass of its module via ``params()``; invalid combinations are
reported at load time under the section's key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from udfs.features.anomaly import AnomalyParams
from udfs.features.content_interest import ContentParams
from udfs.features.interactions import InteractionParams
from udfs.features.items import ItemParams
from udfs.privacy import DEFAULT_KEY_ENV, FieldAllowList

H = 3_600_000


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _check(self):
        self.params()  # the dataclass validates combinations; ValueError -> validation error
        return self

    def params(self):  # pragma: no cover - overridden
        raise NotImplementedError


class InteractionConfig(_Section):
    enabled: bool = Field(True, description="compute user x item / user x category features in the user state")
    max_items: int = Field(20, ge=1, description="user x item pairs kept per user (least recently touched evicted)")
    max_categories: int = Field(24, ge=1, description="user x category entries kept (lowest decayed count evicted)")
    affinity_half_life_h: float = Field(168.0, gt=0)
    top_items: int = Field(10, ge=1)
    top_categories: int = Field(10, ge=1)

    def params(self) -> InteractionParams:
        return InteractionParams(max_items=self.max_items, max_categories=self.max_categories,
                                 affinity_half_life_ms=int(self.affinity_half_life_h * H),
                                 top_items=self.top_items, top_categories=self.top_categories)


class ItemFeatureConfig(_Section):
    enabled: bool = Field(True, description="keyed item features + cold-start popular lists (item_features, popular_items)")
    micro_batch_ms: int = Field(5000, ge=1, description="per-item micro-batch window (arrival time) before the item fold; longer = fewer item fold calls and store writes (2 s → 5 s: 7.5k → 12.4k events/s, bench/README.md)")
    buckets: int = Field(32, ge=1, description="item buckets: the item fold is keyed by |hash(item_id)| mod buckets, one Python call per bucket batch; fixed for the life of the state (a restore with another count fails)")
    top_k: int = Field(100, ge=1, description="items per popular list (global and per category)")
    popular_every_s: float = Field(5.0, gt=0, description="rewrite the popular lists at most this often (and at the end)")
    store_embedding: bool = Field(True, description="item rows carry the item's text embedding (with features.content)")
    windows_s: list[int] = [3600, 86400, 604800]
    buckets_per_window: int = Field(60, ge=1)
    trending_short_s: int = 3600
    trending_long_s: int = 86400
    trending_prior: float = Field(1.0, gt=0)
    trending_min_events: int = Field(3, ge=0)
    popularity_half_life_h: float = Field(24.0, gt=0)
    popularity_weights: dict[str, float] = {}

    def params(self) -> ItemParams:
        return ItemParams(windows_ms=tuple(w * 1000 for w in self.windows_s), buckets_per_window=self.buckets_per_window,
                          trending_short_ms=self.trending_short_s * 1000, trending_long_ms=self.trending_long_s * 1000,
                          trending_prior=self.trending_prior, trending_min_events=self.trending_min_events,
                          popularity_half_life_ms=int(self.popularity_half_life_h * H),
                          popularity_weights=dict(self.popularity_weights))


class AnomalyConfig(_Section):
    enabled: bool = Field(True, description="rate outliers and bot-like sessions in the user state")
    population: Literal["frozen", "learn"] = Field(
        "frozen", description="frozen: population baseline from population_file (or the prior), identical in stream "
                              "and backfill; learn: each fold subtask learns it in memory (not checkpointed)")
    population_file: Path | None = Field(None, description="baseline written by `recstream backfill --population-out`")
    bucket_s: float = Field(60.0, gt=0, description="rate bucket (event time)")
    ewma_alpha: float = Field(0.1, gt=0, le=1)
    min_own_buckets: int = Field(5, ge=1)
    min_std: float = Field(1.0, gt=0)
    min_events: int = Field(10, ge=1, description="a bucket with fewer events is never an outlier")
    warn_z: float = Field(3.0, gt=0)
    block_z: float = Field(6.0, gt=0)
    population_half_life_h: float = Field(6.0, gt=0)
    population_prior_mean: float = Field(2.0, ge=0)
    population_prior_std: float = Field(2.0, gt=0)
    population_min_weight: float = Field(30.0, ge=0)
    bot_min_session_events: int = Field(20, ge=2)
    bot_fast_gap_ms: int = Field(1000, ge=1)
    bot_fast_fraction: float = Field(0.8, gt=0, le=1)
    exclude_tier: Literal["warn", "block", "none"] = "block"
    exclude_bot_sessions: bool = True

    def params(self, session_gap_ms: int = 30 * 60_000) -> AnomalyParams:
        return AnomalyParams(
            bucket_ms=int(self.bucket_s * 1000), ewma_alpha=self.ewma_alpha, min_own_buckets=self.min_own_buckets,
            min_std=self.min_std, min_events=self.min_events, warn_z=self.warn_z, block_z=self.block_z,
            population_half_life_ms=int(self.population_half_life_h * H),
            population_prior_mean=self.population_prior_mean, population_prior_std=self.population_prior_std,
            population_min_weight=self.population_min_weight, session_gap_ms=session_gap_ms,
            bot_min_session_events=self.bot_min_session_events, bot_fast_gap_ms=self.bot_fast_gap_ms,
            bot_fast_fraction=self.bot_fast_fraction, exclude_tier=self.exclude_tier,
            exclude_bot_sessions=self.exclude_bot_sessions)


class ContentConfig(_Section):
    enabled: bool | Literal["auto"] = Field("auto", description="auto: on when embeddings_path is set")
    embeddings_path: Path | None = Field(None, description="item embeddings (`recstream catalogue embed --out DIR`)")
    encoder_path: Path | None = Field(None, description="text encoder export (python -m model_export.text_encoder DIR)")
    variant: Literal["fp32", "int8"] = "fp32"
    batch_size: int = Field(64, ge=1)
    half_life_h: float = Field(168.0, gt=0)
    event_weights: dict[str, float] = {}
    rating_weight: float = Field(1.0, ge=0)
    min_rating: float = Field(2.5, ge=0, le=5)

    def active(self) -> bool:
        return self.embeddings_path is not None if self.enabled == "auto" else bool(self.enabled)

    @model_validator(mode="after")
    def _needs_embeddings(self):
        if self.enabled is True and self.embeddings_path is None:
            raise ValueError("features.content.enabled=true needs features.content.embeddings_path "
                             "(write one with `recstream catalogue embed`)")
        return self

    def params(self) -> ContentParams:
        return ContentParams(half_life_ms=int(self.half_life_h * H), event_weights=dict(self.event_weights),
                             rating_weight=self.rating_weight, min_rating=self.min_rating)


class PrivacyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pseudonymize: bool = Field(False, description="replace user ids by HMAC-SHA256 pseudonyms before anything is stored")
    key_env: str = Field(DEFAULT_KEY_ENV, min_length=1, description="environment variable holding the key")
    key_file: Path | None = Field(None, description="file holding the key (takes precedence over key_env)")
    digest_chars: int = Field(32, ge=16, le=64)
    persist_fields: list[str] | None = Field(None, description="allow-list of dotted feature paths to store (None: all)")

    @model_validator(mode="after")
    def _paths(self):
        FieldAllowList(self.persist_fields)  # rejects malformed paths at load time
        return self
