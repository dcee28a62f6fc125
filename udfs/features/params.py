"""Feature parameters as a plain dataclass (the pydantic config maps onto it)."""
from __future__ import annotations

from dataclasses import dataclass, field

from schemas import event_types
from udfs.features.anomaly import AnomalyParams
from udfs.features.content_interest import ContentParams
from udfs.features.interactions import InteractionParams
from udfs.features.items import ItemParams

DEFAULT_EVENT_WEIGHTS = {
    "view": 1.0,
    "click": 2.0,
    "like": 3.0,
    "add_to_cart": 4.0,
    "purchase": 6.0,
    "search": 0.5,
    "share": 3.0,
    # "rating" is weighted by its value: (rating - 2.5) / 2.5 * rating_weight
}


@dataclass(frozen=True)
class FeatureParams:
    """Knobs of the feature logic. Times are milliseconds."""

    windows_ms: tuple[int, ...] = (300_000, 3_600_000, 86_400_000)
    buckets_per_window: int = 60
    sequence_length: int = 50
    session_gap_ms: int = 30 * 60_000
    half_life_short_ms: int = 2 * 3_600_000
    half_life_long_ms: int = 7 * 86_400_000
    max_categories: int = 64
    top_categories: int = 10
    allowed_lateness_ms: int = 10 * 60_000
    rating_weight: float = 3.0
    event_weights: dict = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    # the interaction / item / anomaly / content features (their modules document them)
    interactions: InteractionParams = field(default_factory=InteractionParams)
    items: ItemParams = field(default_factory=ItemParams)
    anomaly: AnomalyParams = field(default_factory=AnomalyParams)
    content: ContentParams = field(default_factory=ContentParams)
    # which of those parts the per-user state computes (UserState); off in this plain dataclass,
    # the config (features.<part>.enabled) turns interactions and anomaly on by default
    interactions_on: bool = False
    anomaly_on: bool = False
    content_on: bool = False

    def __post_init__(self) -> None:
        if not self.windows_ms or any(w <= 0 for w in self.windows_ms):
            raise ValueError(f"windows_ms must be positive, got {self.windows_ms}")
        if self.buckets_per_window < 1:
            raise ValueError("buckets_per_window must be >= 1")
        if any(w % self.buckets_per_window for w in self.windows_ms):
            raise ValueError(
                f"each window in {self.windows_ms} must be a multiple of buckets_per_window={self.buckets_per_window}"
            )
        if self.sequence_length < 1:
            raise ValueError("sequence_length must be >= 1")
        for name in ("session_gap_ms", "half_life_short_ms", "half_life_long_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.allowed_lateness_ms < 0:
            raise ValueError("allowed_lateness_ms must be >= 0")
        unknown = set(self.event_weights) - set(event_types())
        if unknown:
            raise ValueError(f"event_weights has unknown event types {sorted(unknown)}")

    @staticmethod
    def window_label(window_ms: int) -> str:
        """Human label for a window length: 300000 -> '5m', 86400000 -> '24h'."""
        s = window_ms // 1000
        if s % 3600 == 0:
            return f"{s // 3600}h"
        if s % 60 == 0:
            return f"{s // 60}m"
        return f"{s}s"
