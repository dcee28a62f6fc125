"""Pydantic models for every config section."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from udfs.features.params import DEFAULT_EVENT_WEIGHTS, FeatureParams


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SyntheticSourceConfig(Section):
    seed: int = 7
    users: int = Field(500, ge=1)
    items: int = Field(2000, ge=1)
    categories: int = Field(20, ge=1)
    events: int = Field(20_000, ge=1)
    span_hours: float = Field(72.0, gt=0)
    bot_users: int = Field(3, ge=0)
    late_fraction: float = Field(0.01, ge=0, le=1)
    malformed_fraction: float = Field(0.005, ge=0, le=1)
    max_disorder_ms: int = Field(5_000, ge=0)


class MovieLensSourceConfig(Section):
    path: Path = Path("../shared/data/ml-100k")
    repeat: int = Field(1, ge=1)


class FileSourceConfig(Section):
    path: Path | None = None


class SourceConfig(Section):
    kind: Literal["synthetic", "movielens", "file"] = "synthetic"
    synthetic: SyntheticSourceConfig = SyntheticSourceConfig()
    movielens: MovieLensSourceConfig = MovieLensSourceConfig()
    file: FileSourceConfig = FileSourceConfig()

    @model_validator(mode="after")
    def _file_needs_path(self):
        if self.kind == "file" and self.file.path is None:
            raise ValueError("source.kind=file needs source.file.path (a file of one JSON event per line)")
        return self


class FeatureConfig(Section):
    windows_s: list[int] = [300, 3600, 86400]
    buckets_per_window: int = Field(60, ge=1)
    sequence_length: int = Field(50, ge=1, le=1000)
    session_gap_s: int = Field(1800, gt=0)
    half_life_short_h: float = Field(2.0, gt=0)
    half_life_long_h: float = Field(168.0, gt=0)
    max_categories: int = Field(64, ge=1)
    top_categories: int = Field(10, ge=1)
    allowed_lateness_s: float = Field(600.0, ge=0)
    rating_weight: float = 3.0
    event_weights: dict[str, float] = dict(DEFAULT_EVENT_WEIGHTS)

    def params(self) -> FeatureParams:
        return FeatureParams(
            windows_ms=tuple(int(w * 1000) for w in self.windows_s),
            buckets_per_window=self.buckets_per_window,
            sequence_length=self.sequence_length,
            session_gap_ms=int(self.session_gap_s * 1000),
            half_life_short_ms=int(self.half_life_short_h * 3_600_000),
            half_life_long_ms=int(self.half_life_long_h * 3_600_000),
            max_categories=self.max_categories,
            top_categories=self.top_categories,
            allowed_lateness_ms=int(self.allowed_lateness_s * 1000),
            rating_weight=self.rating_weight,
            event_weights=dict(self.event_weights),
        )


class SqliteStoreConfig(Section):
    path: Path = Path("recstream-data/store.sqlite")


class StoreConfig(Section):
    kind: Literal["sqlite"] = "sqlite"
    sqlite: SqliteStoreConfig = SqliteStoreConfig()


def packaged_demo_model() -> Path:
    """The small demo model shipped in ``model_export/demo`` (built by ``recstream demo-model``)."""
    spec = importlib.util.find_spec("model_export")
    return Path(spec.origin).parent / "demo" if spec and spec.origin else Path("model_export/demo")


class ModelConfig(Section):
    enabled: bool | Literal["auto"] = Field("auto", description="auto: score when model.path/model.onnx exists")
    path: Path = Field(default_factory=packaged_demo_model)
    provider: Literal["auto", "cuda", "cpu"] = "auto"
    gpu_mem_limit_mb: int = Field(2048, ge=64)
    threads: int | None = Field(None, ge=1, description="onnxruntime intra-op threads (CPU)")
    cold_start_min_events: int = Field(3, ge=0)
    batch_size: int = Field(1000, ge=1, description="max rows per model call (Arrow batch)")
    max_wait_ms: int = Field(200, ge=1, description="flush a partial batch after this long")
    parallelism: int | None = Field(None, ge=1, description="scoring parallelism (default: job.parallelism)")

    def active(self) -> bool:
        if self.enabled == "auto":
            return (self.path / "model.onnx").exists()
        return bool(self.enabled)


class JobConfig(Section):
    name: str = "recstream-features"
    parallelism: int = Field(1, ge=1)
    execution_mode: Literal["thread", "process"] = "thread"
    micro_batch_ms: int = Field(200, ge=1, description="per-user micro-batch window (arrival time)")
    arrival_watermark_delay_ms: int = Field(1000, ge=0, description="slack for wall-clock jitter (bounded inputs)")
    state_ttl_days: float = Field(30.0, gt=0)
    state_cache_size: int = Field(100_000, ge=0)
    checkpoint_interval_ms: int = Field(0, ge=0, description="0 disables checkpointing")
    checkpoint_dir: Path | None = None
    restart_attempts: int = Field(0, ge=0)
    work_dir: Path = Path("recstream-data")
    flink_conf: dict[str, str] = {}


class RecstreamConfig(Section):
    job: JobConfig = JobConfig()
    source: SourceConfig = SourceConfig()
    features: FeatureConfig = FeatureConfig()
    store: StoreConfig = StoreConfig()
    model: ModelConfig = ModelConfig()
