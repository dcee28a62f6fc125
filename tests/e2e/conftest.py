"""A standalone Flink cluster for the end-to-end tests, started once per session from the
installed package under a temporary ``cluster.home`` on free ports, stopped by pid at the end."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from recstream.cluster import LocalCluster
from recstream.cluster.local import free_port, pid_alive
from recstream.config import load_config


@pytest.fixture(scope="session")
def cluster_overrides(tmp_path_factory) -> list[str]:
    home = tmp_path_factory.mktemp("flink-cluster")
    return [
        f"cluster.home={home}", f"cluster.rest_port={free_port()}", f"cluster.rpc_port={free_port()}",
        # a lost TaskManager is noticed within seconds (Flink's default timeout is 50 s)
        "cluster.flink_conf={heartbeat.interval: '1000', heartbeat.timeout: '6000', "
        "metrics.fetcher.update-interval: '500'}",
    ]


@pytest.fixture(scope="session")
def flink_cluster(cluster_overrides):
    cluster = LocalCluster(load_config(overrides=cluster_overrides).cluster)
    cluster.start()
    yield cluster
    pids = cluster.stop()
    time.sleep(0.5)
    assert pids and not [p for p in pids if pid_alive(p)], "cluster processes left behind"


def job_config(tmp: Path, cluster_overrides: list[str], *extra: str):
    """Config for one submission: its own store, restart strategy none unless a test asks."""
    return load_config(overrides=[*cluster_overrides, f"store.sqlite.path={tmp / 'store.sqlite'}",
                                  f"job.work_dir={tmp}", "model.provider=cpu", "restart.attempts=0",
                                  *extra])


def stored_progress(store: Path) -> int:
    """Sum of the stored users' state_seq: events folded so far, as the store shows it."""
    if not store.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COALESCE(SUM(state_seq), 0) FROM user_features").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0
