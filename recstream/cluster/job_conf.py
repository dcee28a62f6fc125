"""Job-level Flink keys for checkpointing, state backend and restarts, from the ``checkpoint`` and
``restart`` config sections.

One section each serves every way a job runs; only what an unset key means differs (the rule is in
``recstream.config.models``): a job on a cluster (``recstream submit``; the cluster's generated
config.yaml) checkpoints every 10 s to ``<cluster.home>/checkpoints`` on the hashmap backend and restarts
3 times; a local run (``recstream run``, flink_jobs/environment.py) does neither and leaves the state
backend to Flink (or to the cluster hosting it, e.g. deploy/k8s), unless the keys are set.
"""
from __future__ import annotations

from pathlib import Path

from recstream.config.models import CheckpointConfig, ClusterConfig, RestartConfig


def restart_conf(attempts: int, delay_s: float) -> dict[str, str]:
    """A bounded fixed-delay restart strategy, or ``none`` for 0 attempts (failures surface at once)."""
    if not attempts:
        return {"restart-strategy.type": "none"}
    return {"restart-strategy.type": "fixed-delay",
            "restart-strategy.fixed-delay.attempts": str(attempts),
            "restart-strategy.fixed-delay.delay": f"{int(delay_s * 1000)} ms"}


def job_restart_conf(restart: RestartConfig, on_cluster: bool) -> dict[str, str]:
    """The restart keys a job sets: none with ``restart.inherit`` (the hosting cluster's own config
    decides), else :func:`restart_conf` for where it runs."""
    if restart.inherit:
        return {}
    return restart_conf(restart.attempts_for(on_cluster), restart.delay_s)


def checkpoint_conf(ck: CheckpointConfig, interval_ms: int, checkpoint_dir: Path | None,
                    savepoint_dir: Path | None = None, state_backend: str | None = None) -> dict[str, str]:
    """Exactly-once checkpoints every ``interval_ms`` (0: none) with ``state_backend`` (None: not set);
    with a ``checkpoint_dir`` they go there and are retained on cancel (so a cancelled or failed job can
    be resumed from its last checkpoint)."""
    conf = {"state.backend.type": state_backend} if state_backend else {}
    if savepoint_dir is not None:
        conf["execution.checkpointing.savepoint-dir"] = Path(savepoint_dir).resolve().as_uri()
    if not interval_ms:
        return conf
    conf.update({
        "execution.checkpointing.interval": f"{interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.min-pause": f"{ck.min_pause_ms} ms",
        "execution.checkpointing.timeout": f"{ck.timeout_ms} ms",
        "execution.checkpointing.num-retained": str(ck.retained),
        "execution.checkpointing.unaligned.enabled": str(ck.unaligned).lower(),
    })
    if checkpoint_dir is not None:
        conf["execution.checkpointing.dir"] = Path(checkpoint_dir).resolve().as_uri()
        conf["execution.checkpointing.externalized-checkpoint-retention"] = "RETAIN_ON_CANCELLATION"
    if state_backend == "rocksdb":
        conf["execution.checkpointing.incremental"] = str(ck.incremental).lower()
        # state size in the web UI / REST / Prometheus (RocksDB native metrics, cheap estimates)
        conf["state.backend.rocksdb.metrics.estimate-live-data-size"] = "true"
        conf["state.backend.rocksdb.metrics.total-sst-files-size"] = "true"
        conf["state.backend.rocksdb.metrics.estimate-num-keys"] = "true"
    return conf


def cluster_dirs(cluster: ClusterConfig, ck: CheckpointConfig) -> tuple[Path, Path]:
    """(checkpoint dir, savepoint dir) of jobs on a cluster, absolute."""
    home = cluster.home.resolve()
    return (ck.dir or home / "checkpoints").resolve(), (ck.savepoint_dir or home / "savepoints").resolve()


def cluster_job_conf(cluster: ClusterConfig, ck: CheckpointConfig, restart: RestartConfig) -> dict[str, str]:
    """Job-level Flink keys for jobs on a cluster: checkpointing, state backend, restart strategy."""
    checkpoints, savepoints = cluster_dirs(cluster, ck)
    return {**checkpoint_conf(ck, ck.interval(on_cluster=True), checkpoints, savepoints, ck.backend(on_cluster=True)),
            **job_restart_conf(restart, on_cluster=True)}


def local_job_conf(ck: CheckpointConfig, restart: RestartConfig) -> dict[str, str]:
    """Job-level Flink keys for a local run (no checkpoints, no restarts and Flink's own state backend
    unless set)."""
    return {**checkpoint_conf(ck, ck.interval(on_cluster=False), ck.dir, ck.savepoint_dir, ck.backend(on_cluster=False)),
            **job_restart_conf(restart, on_cluster=False)}
