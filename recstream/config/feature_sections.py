"""Config sections for the interest, interaction, item, anomaly and content features and for
privacy (``features.interest``, ``features.interactions``, ``features.items``,
``features.anomaly``, ``features.content``, ``privacy``). Each feature section maps onto the
plain parameter dataclass of its module via ``params()``; invalid combinations are reported at
load time under the section's key.

Defaults have one source: the dataclasses of the pure layer (``udfs.features``). A field here
that maps onto a dataclass field takes its default from a default instance of that dataclass,
converted to the config's unit (hours, seconds); only keys with no dataclass field (``enabled``,
batching, paths) have their default written here. tests/recstream/test_feature_sections.py
checks that a default config builds exactly the default dataclasses.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from udfs.features.anomaly import AnomalyParams
from udfs.features.content_interest import ContentParams
from udfs.features.interactions import InteractionParams
from udfs.features.items import ItemParams
from udfs.features.params import FeatureParams
from udfs.privacy import DEFAULT_DIGEST_CHARS, DEFAULT_KEY_ENV, FieldAllowList

H = 3_600_000

# the defaults, from the pure layer's dataclasses
_FEATURES = FeatureParams()
_INTERACTIONS = InteractionParams()
_ITEMS = ItemParams()
_ANOMALY = AnomalyParams()
_CONTENT = ContentParams()


def _hours(ms: int) -> float:
    return ms / H


def _seconds(ms: int) -> int | float:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _check(self):
        self.params()  # the dataclass validates combinations; ValueError -> validation error
        return self

    def params(self):  # pragma: no cover - overridden
        raise NotImplementedError


class InterestConfig(BaseModel):
    """Decayed category interest (``interest.short`` / ``interest.long`` of the user rows): the
    half-lives, how many labels (categories and tags) each user tracks and stores, and what each
    event adds (docs/features.md)."""
    model_config = ConfigDict(extra="forbid")

    half_life_short_h: float = Field(_hours(_FEATURES.half_life_short_ms), gt=0, description="half-life of interest.short")
    half_life_long_h: float = Field(_hours(_FEATURES.half_life_long_ms), gt=0, description="half-life of interest.long")
    max_categories: int = Field(_FEATURES.max_categories, ge=1, description=(
        "interest labels tracked per user; above it the label with the smallest |long| value is evicted"))
    top_categories: int = Field(_FEATURES.top_categories, ge=1, description=(
        "labels stored per row (largest |value| first)"))
    event_weights: dict[str, float] = Field(dict(_FEATURES.event_weights), description=(
        "interest an event adds, by event type (missing types: 1)"))
    rating_weight: float = Field(_FEATURES.rating_weight, description=(
        "a rating r adds (r - 2.5) / 2.5 * rating_weight (negative below 2.5)"))


class InteractionConfig(_Section):
    enabled: bool = Field(True, description="compute user x item / user x category features in the user state")
    max_items: int = Field(_INTERACTIONS.max_items, ge=1,
                           description="user x item pairs kept per user (least recently touched evicted)")
    max_categories: int = Field(_INTERACTIONS.max_categories, ge=1, description=(
        "user x category interaction entries kept per user (lowest decayed count evicted); "
        "not the interest labels (features.interest.max_categories)"))
    affinity_half_life_h: float = Field(_hours(_INTERACTIONS.affinity_half_life_ms), gt=0)
    top_items: int = Field(_INTERACTIONS.top_items, ge=1, description="items in the read-out (newest first)")
    top_categories: int = Field(_INTERACTIONS.top_categories, ge=1,
                                description="categories in the read-out (highest affinity first)")

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
    windows_s: list[int] = Field([_seconds(w) for w in _ITEMS.windows_ms], description="item windows (popularity, window_counts)")
    tiles_per_window: int = Field(_ITEMS.buckets_per_window, ge=1, description=(
        "time tiles each item window is counted in (window / tiles = granularity, docs/features.md)"))
    trending_short_s: int = _seconds(_ITEMS.trending_short_ms)
    trending_long_s: int = _seconds(_ITEMS.trending_long_ms)
    trending_prior: float = Field(_ITEMS.trending_prior, gt=0, description="pseudo-events per short window, added to both rates")
    popularity_half_life_h: float = Field(_hours(_ITEMS.popularity_half_life_ms), gt=0)
    popularity_weights: dict[str, float] = Field(dict(_ITEMS.popularity_weights),
                                                 description="event type -> weight (missing types: 1)")

    def params(self) -> ItemParams:
        return ItemParams(windows_ms=tuple(w * 1000 for w in self.windows_s), buckets_per_window=self.tiles_per_window,
                          trending_short_ms=self.trending_short_s * 1000, trending_long_ms=self.trending_long_s * 1000,
                          trending_prior=self.trending_prior,
                          popularity_half_life_ms=int(self.popularity_half_life_h * H),
                          popularity_weights=dict(self.popularity_weights))


class AnomalyConfig(_Section):
    enabled: bool = Field(True, description="rate outliers and bot-like sessions in the user state")
    population: Literal["frozen", "learn"] = Field(
        "frozen", description="frozen: population baseline from population_file (or the prior), identical in stream "
                              "and backfill; learn: each fold subtask learns it in memory (not checkpointed)")
    population_file: Path | None = Field(None, description="baseline written by `recstream backfill --population-out`")
    rate_interval_s: float = Field(_ANOMALY.bucket_ms / 1000, gt=0, description=(
        "event-time interval a user's event rate is counted in (anomaly.rate_bucket_events of the row: the current one)"))
    ewma_alpha: float = Field(_ANOMALY.ewma_alpha, gt=0, le=1,
                              description="own baseline: weight of the newest completed interval")
    min_own_intervals: int = Field(_ANOMALY.min_own_buckets, ge=1,
                                   description="completed active intervals before the user's own baseline is used")
    min_std: float = Field(_ANOMALY.min_std, gt=0, description="floor of the deviation, events per interval")
    min_events: int = Field(_ANOMALY.min_events, ge=1, description="an interval with fewer events is never an outlier")
    warn_z: float = Field(_ANOMALY.warn_z, gt=0)
    block_z: float = Field(_ANOMALY.block_z, gt=0)
    population_half_life_h: float = Field(_hours(_ANOMALY.population_half_life_ms), gt=0)
    population_prior_mean: float = Field(_ANOMALY.population_prior_mean, ge=0)
    population_prior_std: float = Field(_ANOMALY.population_prior_std, gt=0)
    population_min_weight: float = Field(_ANOMALY.population_min_weight, ge=0)
    bot_min_session_events: int = Field(_ANOMALY.bot_min_session_events, ge=2)
    bot_fast_gap_ms: int = Field(_ANOMALY.bot_fast_gap_ms, ge=1)
    bot_fast_fraction: float = Field(_ANOMALY.bot_fast_fraction, gt=0, le=1)
    exclude_tier: Literal["warn", "block", "none"] = Field(
        _ANOMALY.exclude_tier, description="this verdict tier and above: not counted in item popularity")
    exclude_bot_sessions: bool = _ANOMALY.exclude_bot_sessions

    def params(self, session_gap_ms: int = _ANOMALY.session_gap_ms) -> AnomalyParams:
        return AnomalyParams(
            bucket_ms=int(self.rate_interval_s * 1000), ewma_alpha=self.ewma_alpha, min_own_buckets=self.min_own_intervals,
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
    half_life_h: float = Field(_hours(_CONTENT.half_life_ms), gt=0)
    event_weights: dict[str, float] = Field(dict(_CONTENT.event_weights), description="event type -> weight (missing types: 1)")
    rating_weight: float = Field(_CONTENT.rating_weight, ge=0, description="a rating r weighs r / 5 * rating_weight")
    min_rating: float = Field(_CONTENT.min_rating, ge=0, le=5, description="ratings below this are skipped")

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
    digest_chars: int = Field(DEFAULT_DIGEST_CHARS, ge=16, le=64)
    persist_fields: list[str] | None = Field(None, description="allow-list of dotted feature paths to store (None: all)")

    @model_validator(mode="after")
    def _paths(self):
        FieldAllowList(self.persist_fields)  # rejects malformed paths at load time
        return self
