"""The cluster's own config folder, generated under ``cluster.home`` (never inside site-packages).

Layout of ``cluster.home`` (default ``recstream-data/cluster``)::

    conf/   config.yaml, log4j*.properties, masters, workers  (FLINK_CONF_DIR)
    lib/    links to pyflink/lib/*.jar + opt/flink-python-*.jar (FLINK_LIB_DIR)
    log/    JobManager / TaskManager logs and .out files
    pid/    pid files of every daemon started
    checkpoints/, savepoints/, submissions/, tmp/

``lib/`` carries flink-python so that pemja (thread mode) is loaded once per TaskManager
by the parent class loader: shipped per job from ``opt/`` (Flink's default), the second
thread-mode job on a TaskManager fails on JDK 17 (``NoSuchFieldException: loadedLibraryNames``).
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from recstream.config.models import CheckpointConfig, ClusterConfig, RestartConfig

BIND_HOST = "127.0.0.1"
# how often the JobManager may fetch TaskManager metrics (web UI / REST); bounded jobs wait twice this
# long at their end so their final values are shown (job.final_metrics_wait_ms)
METRICS_FETCH_INTERVAL_MS = 2000


def flink_home() -> Path:
    """The Flink distribution inside the installed ``pyflink`` package."""
    import importlib.util

    spec = importlib.util.find_spec("pyflink")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("apache-flink is not installed (no pyflink package)")
    home = Path(list(spec.submodule_search_locations)[0])
    if not (home / "bin" / "jobmanager.sh").exists():
        raise RuntimeError(f"{home} has no bin/jobmanager.sh: not a complete Flink distribution")
    return home


@dataclass(frozen=True)
class ClusterLayout:
    home: Path

    @classmethod
    def of(cls, cluster: ClusterConfig) -> "ClusterLayout":
        return cls(cluster.home.resolve())

    @property
    def conf(self) -> Path:
        return self.home / "conf"

    @property
    def lib(self) -> Path:
        return self.home / "lib"

    @property
    def log(self) -> Path:
        return self.home / "log"

    @property
    def pid(self) -> Path:
        return self.home / "pid"

    @property
    def tmp(self) -> Path:
        return self.home / "tmp"

    @property
    def submissions(self) -> Path:
        return self.home / "submissions"


def default_java_opts(home: Path) -> str:
    """``env.java.opts.all`` of the packaged config (the --add-opens JDK 17 needs)."""
    data = yaml.safe_load((home / "conf" / "config.yaml").read_text()) or {}
    opts = data.get("env", {}).get("java", {}).get("opts", {}).get("all")
    if not opts:
        opts = data.get("env.java.opts.all", "")
    return str(opts)


def cluster_flink_conf(cluster: ClusterConfig, layout: ClusterLayout, home: Path,
                       checkpoint: CheckpointConfig | None = None, restart: RestartConfig | None = None) -> dict[str, str]:
    """Every key of the generated config.yaml (flat Flink keys); the job keys (checkpoints, restarts) are
    the defaults of every job on the cluster, from the ``checkpoint`` / ``restart`` sections."""
    from recstream.cluster.job_conf import cluster_job_conf

    conf = {
        "env.java.opts.all": default_java_opts(home),
        "env.log.dir": str(layout.log),
        "env.pid.dir": str(layout.pid),
        "io.tmp.dirs": str(layout.tmp),
        "jobmanager.bind-host": BIND_HOST,
        "jobmanager.rpc.address": BIND_HOST,
        "jobmanager.rpc.port": str(cluster.rpc_port),
        "jobmanager.memory.process.size": cluster.jobmanager_memory,
        "jobmanager.execution.failover-strategy": "region",
        "taskmanager.bind-host": BIND_HOST,
        "taskmanager.host": BIND_HOST,
        "taskmanager.numberOfTaskSlots": str(cluster.slots),
        "taskmanager.memory.process.size": cluster.taskmanager_memory,
        "rest.address": BIND_HOST,
        "rest.bind-address": BIND_HOST,
        "rest.port": str(cluster.rest_port),
        "parallelism.default": "1",
        # Python workers (TaskManager side) and the job's client process run this interpreter
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        "python.execution-mode": "thread",
        # the web UI / REST metrics are at most this old
        "metrics.fetcher.update-interval": str(METRICS_FETCH_INTERVAL_MS),
        "web.submit.enable": "false",
        **cluster_job_conf(cluster, checkpoint or CheckpointConfig(), restart or RestartConfig()),
    }
    if cluster.prometheus_port:
        conf.update({
            "metrics.reporter.prom.factory.class": "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
            "metrics.reporter.prom.port": str(cluster.prometheus_port),
        })
    conf.update(cluster.flink_conf)
    return conf


def link_lib_dir(home: Path, lib: Path) -> list[Path]:
    """``lib`` = links to the package's lib/*.jar plus opt/flink-python-*.jar (see module doc)."""
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir(parents=True)
    jars = sorted((home / "lib").glob("*.jar")) + sorted((home / "opt").glob("flink-python*.jar"))
    if not any(j.name.startswith("flink-python") for j in jars):
        raise RuntimeError(f"{home}/opt has no flink-python jar")
    for jar in jars:
        (lib / jar.name).symlink_to(jar)
    return jars


def write_conf_dir(cluster: ClusterConfig, home: Path | None = None, checkpoint: CheckpointConfig | None = None,
                   restart: RestartConfig | None = None) -> ClusterLayout:
    """(Re)generate conf/ and lib/ under ``cluster.home``; returns the layout. ``checkpoint`` /
    ``restart``: the sections whose keys become the cluster's job defaults (None: their defaults)."""
    home = home or flink_home()
    layout = ClusterLayout.of(cluster)
    for d in (layout.conf, layout.log, layout.pid, layout.tmp, layout.submissions):
        d.mkdir(parents=True, exist_ok=True)
    for name in ("log4j.properties", "log4j-cli.properties", "log4j-console.properties", "log4j-session.properties",
                 "logback.xml", "logback-console.xml", "logback-session.xml"):
        src = home / "conf" / name
        if src.exists():
            shutil.copyfile(src, layout.conf / name)
    conf = cluster_flink_conf(cluster, layout, home, checkpoint, restart)
    header = ("# Generated by `recstream cluster start` from the `cluster`, `checkpoint` and `restart` config "
              "sections; edits are overwritten.\n"
              "# Flink 2.x config.yaml (flat keys). See docs/cluster.md.\n")
    (layout.conf / "config.yaml").write_text(header + yaml.safe_dump(conf, sort_keys=False, width=10_000))
    (layout.conf / "masters").write_text(f"{BIND_HOST}:{cluster.rest_port}\n")
    (layout.conf / "workers").write_text(f"{BIND_HOST}\n" * cluster.taskmanagers)
    link_lib_dir(home, layout.lib)
    return layout


def process_env(layout: ClusterLayout) -> dict[str, str]:
    """Environment for Flink's scripts and the ``flink`` CLI: JDK, this venv first on PATH,
    the generated conf and lib dirs; nothing of an enclosing PyFlink process leaks in."""
    from recstream.flink_env import find_java_home

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYFLINK_", "_PYFLINK", "FLINK_"))}
    java_home = find_java_home()
    bin_dir = str(Path(sys.executable).parent)
    env.update({
        "JAVA_HOME": str(java_home),
        "PATH": os.pathsep.join([bin_dir, str(java_home / "bin"), env.get("PATH", "")]),
        "FLINK_CONF_DIR": str(layout.conf),
        "FLINK_LIB_DIR": str(layout.lib),
        "FLINK_LOG_DIR": str(layout.log),
        "FLINK_PID_DIR": str(layout.pid),
    })
    return env
