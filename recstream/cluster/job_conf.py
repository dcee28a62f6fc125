"""Job-level Flink keys for checkpointing, state backend and restarts, from the config sections.

Jobs on a cluster take them from ``cluster.checkpoint`` / ``cluster.restart``: the same keys are the
cluster's defaults in its generated config.yaml and are shipped with every ``recstream submit`` in
``job.flink_conf``. Local runs take restarts from ``job.*`` (flink_jobs/environment.py).
"""
from __future__ import annotations

from pathlib import Path

from recstream.config.models import CheckpointSettings, ClusterConfig


def restart_conf(attempts: int, delay_s: float) -> dict[str, str]:
    """A bounded fixed-delay restart strategy, or ``none`` for 0 attempts (failures surface at once)."""
    if not attempts:
        return {"restart-strategy.type": "none"}
    return {"restart-strategy.type": "fixed-delay",
            "restart-strategy.fixed-delay.attempts": str(attempts),
            "restart-strategy.fixed-delay.delay": f"{int(delay_s * 1000)} ms"}


def checkpoint_conf(ck: CheckpointSettings, checkpoint_dir: Path, savepoint_dir: Path | None = None) -> dict[str, str]:
    """Exactly-once checkpoints every ``ck.interval_ms`` to ``checkpoint_dir``, retained on cancel
    (so a cancelled or failed job can be resumed from its last checkpoint), with the chosen state backend."""
    conf = {"state.backend.type": ck.state_backend}
    if savepoint_dir is not None:
        conf["execution.checkpointing.savepoint-dir"] = Path(savepoint_dir).resolve().as_uri()
    if not ck.interval_ms:
        return conf
    conf.update({
        "execution.checkpointing.interval": f"{ck.interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.dir": Path(checkpoint_dir).resolve().as_uri(),
        "execution.checkpointing.min-pause": f"{ck.min_pause_ms} ms",
        "execution.checkpointing.timeout": f"{ck.timeout_ms} ms",
        "execution.checkpointing.num-retained": str(ck.retained),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.unaligned.enabled": str(ck.unaligned).lower(),
    })
    if ck.state_backend == "rocksdb":
        conf["execution.checkpointing.incremental"] = str(ck.incremental).lower()
        # state size in the web UI / REST / Prometheus (RocksDB native metrics, cheap estimates)
        conf["state.backend.rocksdb.metrics.estimate-live-data-size"] = "true"
        conf["state.backend.rocksdb.metrics.total-sst-files-size"] = "true"
        conf["state.backend.rocksdb.metrics.estimate-num-keys"] = "true"
    return conf


def cluster_dirs(cluster: ClusterConfig) -> tuple[Path, Path]:
    """(checkpoint dir, savepoint dir) of a cluster, absolute."""
    home = cluster.home.resolve()
    ck = cluster.checkpoint
    return (ck.dir or home / "checkpoints").resolve(), (ck.savepoint_dir or home / "savepoints").resolve()


def cluster_job_conf(cluster: ClusterConfig) -> dict[str, str]:
    """Job-level Flink keys for jobs on a cluster: checkpointing, state backend, restart strategy."""
    checkpoints, savepoints = cluster_dirs(cluster)
    return {**checkpoint_conf(cluster.checkpoint, checkpoints, savepoints),
            **restart_conf(cluster.restart.attempts, cluster.restart.delay_s)}
