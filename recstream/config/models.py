"""Pydantic models for every config section."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recstream.config.feature_sections import (AnomalyConfig, ContentConfig, InteractionConfig, InterestConfig,
                                               ItemFeatureConfig, PrivacyConfig)
from recstream.sources.synthetic import SyntheticSpec
from recstream.store.config import SqliteStoreConfig, StoreConfig  # noqa: F401 (the store section, re-exported)
from udfs.features.params import FeatureParams
from udfs.inference import ScorerOptions

# Defaults that a plain dataclass of a lower layer also has come from that dataclass (one edit changes
# both; tests/recstream/test_config.py compares them field by field).
_FEATURES = FeatureParams()
_SYNTHETIC = SyntheticSpec()
_SCORER = ScorerOptions(model_dir="")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SyntheticSourceConfig(Section):
    seed: int = _SYNTHETIC.seed
    users: int = Field(_SYNTHETIC.n_users, ge=1)
    items: int = Field(_SYNTHETIC.n_items, ge=1)
    categories: int = Field(_SYNTHETIC.n_categories, ge=1)
    events: int = Field(_SYNTHETIC.n_events, ge=1)
    span_hours: float = Field(_SYNTHETIC.span_hours, gt=0)
    bot_users: int = Field(_SYNTHETIC.bot_users, ge=0)
    late_fraction: float = Field(_SYNTHETIC.late_fraction, ge=0, le=1)
    malformed_fraction: float = Field(_SYNTHETIC.malformed_fraction, ge=0, le=1)
    max_disorder_ms: int = Field(_SYNTHETIC.max_disorder_ms, ge=0)
    user_dist: Literal["pareto", "uniform"] = Field(
        _SYNTHETIC.user_dist, description="pareto: every user has events, a few many (sessions); uniform: each "
        "event's user and time drawn uniformly, so with many users most appear at most once per micro-batch")

    def spec(self) -> SyntheticSpec:
        """The generator's spec (its other fields keep their defaults)."""
        return SyntheticSpec(
            seed=self.seed, n_users=self.users, n_items=self.items, n_categories=self.categories,
            n_events=self.events, span_hours=self.span_hours, bot_users=self.bot_users,
            late_fraction=self.late_fraction, malformed_fraction=self.malformed_fraction,
            max_disorder_ms=self.max_disorder_ms, user_dist=self.user_dist)


class MovieLensSourceConfig(Section):
    path: Path = Path("recstream-data/ml-100k")  # where `recstream data fetch-movielens` unpacks it
    repeat: int = Field(1, ge=1)


class FileSourceConfig(Section):
    path: Path | None = None


class SourceConfig(Section):
    kind: Literal["synthetic", "movielens", "file", "kafka"] = "synthetic"
    synthetic: SyntheticSourceConfig = SyntheticSourceConfig()
    movielens: MovieLensSourceConfig = MovieLensSourceConfig()
    file: FileSourceConfig = FileSourceConfig()

    @model_validator(mode="after")
    def _file_needs_path(self):
        if self.kind == "file" and self.file.path is None:
            raise ValueError("source.kind=file needs source.file.path (a file of one JSON event per line)")
        return self


class FeatureConfig(Section):
    windows_s: list[int] = Field([w // 1000 for w in _FEATURES.windows_ms],
                                 description="sliding windows of the user rows (window_counts)")
    tiles_per_window: int = Field(_FEATURES.buckets_per_window, ge=1, description=(
        "time tiles each window is counted in (the stored rows' tiles; window / tiles = granularity, "
        "docs/features.md)"))
    sequence_length: int = Field(_FEATURES.sequence_length, ge=1, le=1000, description="last-N items kept per user")
    session_gap_s: int = Field(_FEATURES.session_gap_ms // 1000, gt=0,
                               description="a gap this long ends a session (also the anomaly part's bot sessions)")
    allowed_lateness_s: float = Field(_FEATURES.allowed_lateness_ms / 1000, ge=0, description=(
        "events older than the user's newest event by more than this are late (dead letters)"))
    interest: InterestConfig = InterestConfig()
    interactions: InteractionConfig = InteractionConfig()
    items: ItemFeatureConfig = ItemFeatureConfig()
    anomaly: AnomalyConfig = AnomalyConfig()
    content: ContentConfig = ContentConfig()

    def params(self) -> FeatureParams:
        return FeatureParams(
            windows_ms=tuple(int(w * 1000) for w in self.windows_s),
            buckets_per_window=self.tiles_per_window,
            sequence_length=self.sequence_length,
            session_gap_ms=int(self.session_gap_s * 1000),
            half_life_short_ms=int(self.interest.half_life_short_h * 3_600_000),
            half_life_long_ms=int(self.interest.half_life_long_h * 3_600_000),
            max_categories=self.interest.max_categories,
            top_categories=self.interest.top_categories,
            allowed_lateness_ms=int(self.allowed_lateness_s * 1000),
            rating_weight=self.interest.rating_weight,
            event_weights=dict(self.interest.event_weights),
            interactions=self.interactions.params(),
            items=self.items.params(),
            anomaly=self.anomaly.params(session_gap_ms=int(self.session_gap_s * 1000)),
            content=self.content.params(),
            interactions_on=self.interactions.enabled,
            anomaly_on=self.anomaly.enabled,
            content_on=self.content.active(),
        )


def packaged_demo_model() -> Path:
    """The small demo model shipped in ``model_export/demo`` (built by ``recstream demo-model``)."""
    spec = importlib.util.find_spec("model_export")
    return Path(spec.origin).parent / "demo" if spec and spec.origin else Path("model_export/demo")


class ModelConfig(Section):
    enabled: bool | Literal["auto"] = Field("auto", description="auto: score when model.path/model.onnx exists")
    path: Path = Field(default_factory=packaged_demo_model)
    provider: Literal["auto", "cuda", "cpu"] = _SCORER.provider
    gpu_mem_limit_mb: int = Field(_SCORER.gpu_mem_limit_mb, ge=64)
    threads: int | None = Field(_SCORER.threads, ge=1, description="onnxruntime intra-op threads (CPU); default 1 per fold "
                                "subtask with runner=fold, onnxruntime's own default with runner=udf")
    spin: bool = Field(_SCORER.spin, description="let onnxruntime's CPU thread pool spin between calls: faster "
                       "inference, but the spinning threads take CPU from the JVM (bench/README.md)")
    cold_start_min_events: int = Field(_SCORER.cold_start_min_events, ge=0,
                                       description="below this many events a user gets the popular list")
    runner: Literal["fold", "udf"] = Field("fold", description=(
        "where the model runs: fold (in the fold operator, on each bucket batch's users, right after "
        "they are folded: no extra Flink hop) or udf (a vectorized pandas UDF over Arrow batches of "
        "bucket batches, in separate Python worker processes; docs/model.md)"))
    batch_size: int = Field(_SCORER.batch_size, ge=1, description="max rows per model call")
    max_wait_ms: int = Field(200, ge=1, description="runner=udf: flush a partial Arrow batch after this long")
    parallelism: int | None = Field(None, ge=1, description="runner=udf: scoring parallelism "
                                    "(default: job.parallelism)")

    def active(self) -> bool:
        if self.enabled == "auto":
            return (self.path / "model.onnx").exists()
        return bool(self.enabled)


class KafkaTopicsConfig(Section):
    events: str = "recstream.events"
    dead_letters: str = "recstream.dead-letters"
    late: str = "recstream.late-events"


class KafkaSecurityConfig(Section):
    """Client security settings, passed to both the Java (Flink) and librdkafka clients.
    Passwords come from an environment variable or a file, never from the config itself."""
    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password_env: str | None = "RECSTREAM_KAFKA_PASSWORD"
    sasl_password_file: Path | None = None
    ssl_ca_location: Path | None = None
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None

    @model_validator(mode="after")
    def _sasl_needs_mechanism(self):
        if self.protocol.startswith("SASL") and (not self.sasl_mechanism or not self.sasl_username):
            raise ValueError(f"kafka.security.protocol={self.protocol} needs sasl_mechanism and sasl_username")
        return self


class KafkaConfig(Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    topics: KafkaTopicsConfig = KafkaTopicsConfig()
    partitions: int = Field(4, ge=1, description="partitions for `recstream topics create`")
    group_id: str = "recstream-features"
    start: Literal["committed", "earliest", "latest", "timestamp"] = Field(
        "committed", description="committed: the group's committed offsets, else earliest")
    start_timestamp_ms: int | None = Field(None, ge=0)
    stop_offsets: dict[int, int] | None = Field(
        None, description="bounded read: stop at these offsets per partition (exclusive)")
    watermark_delay_ms: int = Field(5_000, ge=0, description="event-time watermark = max event time - delay")
    idle_timeout_ms: int = Field(10_000, ge=0, description="a partition idle this long stops holding back watermarks")
    jars_dir: Path = Field(Path("recstream-data/jars"),
                           description="folder with flink-connector-kafka.jar and kafka-clients.jar")
    security: KafkaSecurityConfig = KafkaSecurityConfig()
    properties: dict[str, str] = Field({}, description="extra client properties, passed through as is")

    @model_validator(mode="after")
    def _timestamp_start(self):
        if self.start == "timestamp" and self.start_timestamp_ms is None:
            raise ValueError("kafka.start=timestamp needs kafka.start_timestamp_ms")
        return self


class JobConfig(Section):
    name: str = "recstream-features"
    parallelism: int = Field(1, ge=1)
    execution_mode: Literal["thread", "process"] = "thread"
    # 100 ms rather than 200 ms: p99 0.89/0.94 vs 1.08/1.31 s at 900 events/s over 10k users, ML-100K
    # replay throughput unchanged within noise (bench/README.md)
    micro_batch_ms: int = Field(100, ge=1, description="micro-batch window (arrival time) per user bucket")
    user_buckets: int = Field(32, ge=1, le=1 << 20, description=(
        "users are routed to this many buckets; one Python call folds all users of a bucket's micro-batch. "
        "Part of the state layout: a restore with another count fails (docs/cluster.md)"))
    arrival_watermark_delay_ms: int = Field(1000, ge=0, description="slack for wall-clock jitter (bounded inputs)")
    state_ttl_days: float = Field(30.0, gt=0, description=(
        "a user's / item's state expires this long after its last write (processing time); expired states "
        "are swept per bucket (docs/cluster.md, State expiry)"))
    state_cache_size: int = Field(100_000, ge=0)
    work_dir: Path = Path("recstream-data")
    flink_conf: dict[str, str] = {}
    jars: list[Path] = Field([], description="extra jars (connectors, formats) shipped with the job (pipeline.jars)")
    final_metrics_wait_ms: int | None = Field(None, ge=0, description=(
        "bounded inputs: each recstream operator waits this long once its input ends, so the web UI / REST "
        "show its final metrics (the JobManager fetches them at most every metrics.fetcher.update-interval). "
        "Default: twice that interval for `recstream submit`, 0 for local runs"))

    @property
    def state_ttl_ms(self) -> int:
        return int(self.state_ttl_days * 86_400_000)


# Checkpointing and restarts: one section each for every way a job runs. Only what an unset key means
# differs: a job on a cluster (`recstream submit`, and the cluster's own config.yaml) checkpoints and
# restarts by default, a local run (`recstream run`, a job module run directly) does neither unless asked.
CLUSTER_CHECKPOINT_INTERVAL_MS = 10_000
CLUSTER_STATE_BACKEND = "hashmap"
CLUSTER_RESTART_ATTEMPTS = 3


class CheckpointConfig(Section):
    """Checkpointing and state backend of the job, local runs and jobs on a cluster alike (docs/cluster.md:
    choosing the state backend). Unset interval_ms, dir and state_backend mean: on a cluster checkpoints
    every 10 s to <cluster.home>/checkpoints on the hashmap backend; in a local run no checkpoints and the
    backend Flink (or the cluster the job runs in) defaults to. Checkpoints are exactly-once and, with a
    dir, retained on cancel."""
    interval_ms: int | None = Field(None, ge=0, description=(
        f"0 disables checkpointing; unset: {CLUSTER_CHECKPOINT_INTERVAL_MS} on a cluster, 0 in a local run"))
    min_pause_ms: int = Field(1_000, ge=0, description="least time between the end of one checkpoint and the next")
    timeout_ms: int = Field(600_000, ge=1_000)
    retained: int = Field(3, ge=1, description="completed checkpoints kept")
    unaligned: bool = Field(False, description="unaligned checkpoints: barriers overtake in-flight data")
    state_backend: Literal["hashmap", "rocksdb"] | None = Field(None, description=(
        f"unset: {CLUSTER_STATE_BACKEND} on a cluster; a local run leaves Flink's default (hashmap, or what the "
        "cluster hosting the job sets)"))
    incremental: bool = Field(True, description="incremental checkpoints (rocksdb)")
    dir: Path | None = Field(None, description=(
        "unset: <cluster.home>/checkpoints on a cluster; in a local run Flink's default (the JobManager's memory, "
        "nothing kept after the run)"))
    savepoint_dir: Path | None = Field(None, description="default savepoint target; unset: <cluster.home>/savepoints "
                                       "on a cluster, none in a local run")

    def interval(self, on_cluster: bool) -> int:
        """The checkpoint interval in ms (0: off) of a job on a cluster or a local run."""
        if self.interval_ms is not None:
            return self.interval_ms
        return CLUSTER_CHECKPOINT_INTERVAL_MS if on_cluster else 0

    def backend(self, on_cluster: bool) -> str | None:
        """The state backend of a job on a cluster or a local run (None: not set, Flink's default)."""
        if self.state_backend is not None:
            return self.state_backend
        return CLUSTER_STATE_BACKEND if on_cluster else None


class RestartConfig(Section):
    """Restart strategy of the job, local runs and jobs on a cluster alike: fixed-delay, then the job fails."""
    attempts: int | None = Field(None, ge=0, description=(
        f"restarts before the job fails; 0 = none, a failure fails the job; unset: {CLUSTER_RESTART_ATTEMPTS} "
        "on a cluster, 0 in a local run"))
    delay_s: float = Field(5.0, ge=0, description="wait before each restart")
    inherit: bool = Field(False, description=(
        "the job sets no restart strategy: the hosting Flink cluster's own configuration decides (e.g. the "
        "failure-rate restarts of deploy/k8s, where the job runs as an application whose config would otherwise "
        "be a local run's: no restarts)"))

    @model_validator(mode="after")
    def _inherit_alone(self):
        if self.inherit and self.attempts is not None:
            raise ValueError("restart.inherit=true leaves restarts to the Flink cluster: unset restart.attempts")
        return self

    def attempts_for(self, on_cluster: bool) -> int:
        """Restart attempts of a job on a cluster or a local run."""
        if self.attempts is not None:
            return self.attempts
        return CLUSTER_RESTART_ATTEMPTS if on_cluster else 0


class ClusterConfig(Section):
    """A local standalone Flink cluster started from the pip package (``recstream cluster``)."""
    home: Path = Field(Path("recstream-data/cluster"), description="conf/, lib/, log/, pid/, checkpoints/, ...")
    rest_port: int = Field(8081, ge=1, le=65535)
    rpc_port: int = Field(6123, ge=1, le=65535)
    jobmanager_memory: str = "1024m"
    taskmanager_memory: str = "2048m"
    # one TaskManager per core, one slot each: in thread mode a TaskManager's Python operators share
    # its JVM's one embedded CPython (one GIL); 2 x 1 ran the e2e replay 1.3-1.7x faster than 1 x 2 on
    # 2 cores (bench/README.md)
    taskmanagers: int = Field(2, ge=1, description="TaskManager processes (each its own Python interpreter in thread mode)")
    slots: int = Field(1, ge=1, description="task slots per TaskManager")
    start_timeout_s: float = Field(120.0, gt=0)
    prometheus_port: int | str | None = Field(None, description="port or range, e.g. 9249-9259: enable Prometheus")
    flink_conf: dict[str, str] = Field({}, description="extra keys for the cluster's config.yaml")


class RecstreamConfig(Section):
    kafka: KafkaConfig = KafkaConfig()
    job: JobConfig = JobConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    restart: RestartConfig = RestartConfig()
    source: SourceConfig = SourceConfig()
    features: FeatureConfig = FeatureConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    store: StoreConfig = StoreConfig()
    model: ModelConfig = ModelConfig()
    cluster: ClusterConfig = ClusterConfig()
