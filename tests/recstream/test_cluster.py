"""The cluster's generated config, job keys, submission staging and pid handling (no Flink started)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flink_jobs.environment import flink_configuration
from recstream.cluster.job_conf import checkpoint_conf, cluster_job_conf, local_job_conf, restart_conf
from recstream.cluster.conf import flink_home, write_conf_dir
from recstream.cluster.local import ClusterError, LocalCluster, pid_alive
from recstream.cluster.submit import SubmitError, job_config_snapshot, stage_code
from recstream.config import load_config
from recstream.config.models import CheckpointConfig, RestartConfig


def cfg_for(tmp_path, *extra):
    return load_config(overrides=[f"cluster.home={tmp_path / 'cluster'}", *extra])


def read_conf(tmp_path) -> dict:
    return yaml.safe_load((tmp_path / "cluster" / "conf" / "config.yaml").read_text())


def test_conf_dir_binds_localhost_and_lives_under_cluster_home(tmp_path):
    cfg = cfg_for(tmp_path, "cluster.rest_port=18081", "cluster.rpc_port=16123", "cluster.slots=3")
    layout = write_conf_dir(cfg.cluster)
    conf = read_conf(tmp_path)
    home = tmp_path / "cluster"
    for key in ("jobmanager.bind-host", "jobmanager.rpc.address", "taskmanager.bind-host", "taskmanager.host",
                "rest.address", "rest.bind-address"):
        assert conf[key] == "127.0.0.1", key
    assert (conf["rest.port"], conf["jobmanager.rpc.port"], conf["taskmanager.numberOfTaskSlots"]) == \
        ("18081", "16123", "3")
    assert conf["env.pid.dir"] == str(home / "pid") and conf["env.log.dir"] == str(home / "log")
    assert conf["python.executable"] == conf["python.client.executable"] == sys.executable
    assert "--add-opens=java.base/java.util=ALL-UNNAMED" in conf["env.java.opts.all"]
    assert (layout.conf / "masters").read_text() == "127.0.0.1:18081\n"
    assert (layout.conf / "log4j.properties").exists()
    assert not any("metrics.reporter" in k for k in conf)  # Prometheus binds every interface: opt-in


def test_lib_dir_links_the_package_jars_plus_flink_python(tmp_path):
    layout = write_conf_dir(cfg_for(tmp_path).cluster)
    links = {p.name: p for p in layout.lib.iterdir()}
    assert any(n.startswith("flink-python") for n in links) and any(n.startswith("flink-dist") for n in links)
    home = flink_home()
    assert all(p.is_symlink() and p.resolve().is_relative_to(home.resolve()) for p in links.values())
    assert {p.name for p in (home / "lib").glob("*.jar")} <= set(links)


def test_cluster_defaults_checkpoint_and_restart_bounded(tmp_path):
    write_conf_dir(cfg_for(tmp_path).cluster)
    conf = read_conf(tmp_path)
    assert conf["execution.checkpointing.interval"] == "10000 ms"
    assert conf["execution.checkpointing.dir"] == (tmp_path / "cluster" / "checkpoints").as_uri()
    assert conf["execution.checkpointing.savepoint-dir"] == (tmp_path / "cluster" / "savepoints").as_uri()
    assert conf["execution.checkpointing.externalized-checkpoint-retention"] == "RETAIN_ON_CANCELLATION"
    assert conf["state.backend.type"] == "hashmap"
    assert conf["restart-strategy.type"] == "fixed-delay" and conf["restart-strategy.fixed-delay.attempts"] == "3"
    # the cluster's job defaults come from the checkpoint / restart sections it is started with
    cfg = cfg_for(tmp_path, "checkpoint.state_backend=rocksdb", "checkpoint.interval_ms=30000", "restart.attempts=0")
    LocalCluster(cfg.cluster, cfg.checkpoint, cfg.restart)  # what `recstream cluster start` builds
    write_conf_dir(cfg.cluster, checkpoint=cfg.checkpoint, restart=cfg.restart)
    conf = read_conf(tmp_path)
    assert (conf["state.backend.type"], conf["execution.checkpointing.interval"], conf["restart-strategy.type"]) == \
        ("rocksdb", "30000 ms", "none")


def test_prometheus_reporter_and_extra_keys(tmp_path):
    write_conf_dir(cfg_for(tmp_path, "cluster.prometheus_port=9249-9250",
                           "cluster.flink_conf={heartbeat.timeout: '6000', state.backend.type: rocksdb}").cluster)
    conf = read_conf(tmp_path)
    assert conf["metrics.reporter.prom.factory.class"].endswith("PrometheusReporterFactory")
    assert conf["metrics.reporter.prom.port"] == "9249-9250"
    assert conf["heartbeat.timeout"] == "6000" and conf["state.backend.type"] == "rocksdb"


def test_restart_and_checkpoint_keys():
    assert restart_conf(0, 5) == {"restart-strategy.type": "none"}
    assert restart_conf(2, 1.5)["restart-strategy.fixed-delay.delay"] == "1500 ms"
    rocks = checkpoint_conf(CheckpointConfig(unaligned=True), 1000, Path("/ck"), state_backend="rocksdb")
    assert rocks["state.backend.type"] == "rocksdb" and rocks["execution.checkpointing.incremental"] == "true"
    assert rocks["execution.checkpointing.unaligned.enabled"] == "true"
    assert rocks["state.backend.rocksdb.metrics.estimate-live-data-size"] == "true"
    off = checkpoint_conf(CheckpointConfig(), 0, Path("/ck"))
    assert not any(k.startswith("execution.checkpointing.interval") for k in off)


def test_local_runs_neither_checkpoint_nor_restart_unless_asked(tmp_path):
    conf = flink_configuration(load_config())
    assert conf["restart-strategy.type"] == "none" and "execution.checkpointing.interval" not in conf
    assert "pipeline.jars" not in conf
    # the same keys a cluster job gets, when set: one section for both
    asked = flink_configuration(load_config(overrides=[
        "checkpoint.interval_ms=300", f"checkpoint.dir={tmp_path / 'chk'}", "checkpoint.min_pause_ms=0",
        "restart.attempts=2", "restart.delay_s=1"]))
    assert asked["execution.checkpointing.interval"] == "300 ms" and asked["execution.checkpointing.min-pause"] == "0 ms"
    assert asked["execution.checkpointing.dir"] == (tmp_path / "chk").as_uri()
    assert asked["execution.checkpointing.externalized-checkpoint-retention"] == "RETAIN_ON_CANCELLATION"
    assert asked["execution.checkpointing.mode"] == "EXACTLY_ONCE"
    assert (asked["restart-strategy.fixed-delay.attempts"], asked["restart-strategy.fixed-delay.delay"]) == \
        ("2", "1000 ms")
    # the state backend is left to Flink (or the cluster hosting the job, deploy/k8s: rocksdb) unless set
    assert "state.backend.type" not in conf and "state.backend.type" not in asked
    rocks = flink_configuration(load_config(overrides=["checkpoint.state_backend=rocksdb"]))
    assert rocks["state.backend.type"] == "rocksdb"
    # without a dir: checkpoints in the JobManager's memory, nothing to retain
    nodir = flink_configuration(load_config(overrides=["checkpoint.interval_ms=300"]))
    assert "execution.checkpointing.dir" not in nodir
    assert "execution.checkpointing.externalized-checkpoint-retention" not in nodir


def test_one_section_with_a_default_per_place_for_what_is_unset(tmp_path):
    cfg = cfg_for(tmp_path)
    assert (cfg.checkpoint.interval_ms, cfg.restart.attempts) == (None, None)
    cluster = cluster_job_conf(cfg.cluster, cfg.checkpoint, cfg.restart)
    local = local_job_conf(cfg.checkpoint, cfg.restart)
    assert cluster["execution.checkpointing.interval"] == "10000 ms" and "execution.checkpointing.interval" not in local
    assert cluster["restart-strategy.fixed-delay.attempts"] == "3" and local["restart-strategy.type"] == "none"
    assert cluster["restart-strategy.fixed-delay.delay"] == "5000 ms"
    assert cluster["state.backend.type"] == "hashmap" and "state.backend.type" not in local
    # a key that is set is the same in both places
    off = cfg_for(tmp_path, "checkpoint.interval_ms=0", "restart.attempts=0")
    assert "execution.checkpointing.interval" not in cluster_job_conf(off.cluster, off.checkpoint, off.restart)
    assert cluster_job_conf(off.cluster, off.checkpoint, off.restart)["restart-strategy.type"] == "none"
    assert CheckpointConfig(interval_ms=500).interval(on_cluster=False) == 500
    assert RestartConfig(attempts=1).attempts_for(on_cluster=True) == 1


def test_job_jars_become_pipeline_jars(tmp_path):
    jar = tmp_path / "connector.jar"
    jar.write_bytes(b"PK")
    conf = flink_configuration(load_config(overrides=[f"job.jars=[{jar}]"]))
    assert conf["pipeline.jars"] == jar.as_uri()
    with pytest.raises(FileNotFoundError, match="nope.jar"):
        flink_configuration(load_config(overrides=[f"job.jars=[{tmp_path / 'nope.jar'}]"]))


def test_snapshot_is_absolute_and_carries_cluster_job_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(overrides=["store.sqlite.path=rel/store.sqlite", "cluster.home=c",
                                 "job.flink_conf={state.backend.type: rocksdb}"])
    snap = job_config_snapshot(cfg, tmp_path / "staged-model")
    assert snap["store"]["sqlite"]["path"] == str(tmp_path / "rel" / "store.sqlite")
    assert snap["model"]["path"] == str(tmp_path / "staged-model") and snap["model"]["enabled"] is True
    # checkpoint and restart resolved for a cluster: the job's own environment sets the cluster's keys
    assert snap["checkpoint"]["interval_ms"] == 10_000 and snap["restart"]["attempts"] == 3
    assert snap["checkpoint"]["dir"] == str(tmp_path / "c" / "checkpoints")
    assert snap["checkpoint"]["state_backend"] == "hashmap"
    (tmp_path / "snap.yaml").write_text(yaml.safe_dump(snap))
    again = flink_configuration(load_config([tmp_path / "snap.yaml"]))
    assert again["execution.checkpointing.dir"] == (tmp_path / "c" / "checkpoints").as_uri()
    assert again["execution.checkpointing.savepoint-dir"] == (tmp_path / "c" / "savepoints").as_uri()
    assert again["execution.checkpointing.interval"] == "10000 ms"
    assert again["execution.checkpointing.externalized-checkpoint-retention"] == "RETAIN_ON_CANCELLATION"
    assert again["restart-strategy.fixed-delay.attempts"] == "3"
    assert again["state.backend.type"] == "rocksdb"  # the user's own job.flink_conf key wins
    assert again == {**again, **cluster_job_conf(cfg.cluster, cfg.checkpoint, cfg.restart),
                     "state.backend.type": "rocksdb"}


def test_snapshot_sets_the_final_metrics_wait_from_the_clusters_fetch_interval(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert job_config_snapshot(load_config(), None)["job"]["final_metrics_wait_ms"] == 4000
    fast = load_config(overrides=["cluster.flink_conf={metrics.fetcher.update-interval: '500 ms'}"])
    assert job_config_snapshot(fast, None)["job"]["final_metrics_wait_ms"] == 1000
    own = load_config(overrides=["job.final_metrics_wait_ms=0"])
    assert job_config_snapshot(own, None)["job"]["final_metrics_wait_ms"] == 0
    odd = load_config(overrides=["cluster.flink_conf={metrics.fetcher.update-interval: 2 s}"])
    with pytest.raises(SubmitError, match="metrics.fetcher.update-interval='2 s'"):
        job_config_snapshot(odd, None)


def test_stage_code_copies_packages_without_caches(tmp_path):
    dirs = stage_code(tmp_path / "code")
    assert [d.name for d in dirs] == ["recstream", "flink_jobs", "udfs", "model_export", "schemas"]
    assert (tmp_path / "code" / "schemas" / "event.schema.json").exists()
    assert (tmp_path / "code" / "flink_jobs" / "cluster_entry.py").exists()
    assert not list((tmp_path / "code").rglob("__pycache__"))
    # the staged copy imports on its own (what the TaskManager's PYTHONPATH gets)
    out = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path[:0] = [sys.argv[1]]; "
                          "import schemas, flink_jobs.environment as e; print(e.__file__)", str(tmp_path / "code")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(tmp_path / "code"))


def test_stop_signals_every_recorded_pid_and_clears_pid_files(tmp_path):
    cluster = LocalCluster(cfg_for(tmp_path).cluster)
    assert cluster.stop() == [] and cluster.status()["overview"] is None
    procs = [subprocess.Popen(["sleep", "300"]) for _ in range(2)]
    pid_dir = tmp_path / "cluster" / "pid"
    pid_dir.mkdir(parents=True)
    (pid_dir / "flink--standalonesession.pid").write_text(f"{procs[0].pid}\n")
    (pid_dir / "flink--taskexecutor.pid").write_text(f"{procs[1].pid}\n999999999\n")
    try:
        assert {(d.kind, d.alive) for d in cluster.daemons()} == \
            {("standalonesession", True), ("taskexecutor", True), ("taskexecutor", False)}
        assert sorted(cluster.stop(timeout_s=5)) == sorted(p.pid for p in procs)
        assert not any(pid_alive(p.pid) for p in procs)
        assert not list(pid_dir.glob("*.pid"))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def test_start_refuses_a_busy_port_and_starts_nothing(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cluster = LocalCluster(cfg_for(tmp_path, f"cluster.rest_port={busy.getsockname()[1]}").cluster)
        with pytest.raises(ClusterError, match="in use"):
            cluster.start()
    assert cluster.daemons() == []


def test_cli_status_without_a_cluster_exits_1(tmp_path):
    out = subprocess.run([sys.executable, "-m", "recstream", "cluster", "status", "--json",
                          "--set", f"cluster.home={tmp_path}", "--set", "cluster.rest_port=1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    st = json.loads(out.stdout)
    assert st["overview"] is None and st["processes"] == []


def test_cli_submit_missing_input_fails_cleanly(tmp_path):
    out = subprocess.run([sys.executable, "-m", "recstream", "submit", "--input", str(tmp_path / "none.jsonl"),
                          "--set", f"cluster.home={tmp_path}"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "not found" in " ".join(out.stderr.split())


def test_warns_when_thread_mode_taskmanagers_already_ran_other_code(tmp_path):
    from recstream.cluster.submit import code_digest, stale_code_warning

    code = tmp_path / "code" / "pkg"
    code.mkdir(parents=True)
    (code / "m.py").write_text("X = 1\n")
    d1 = code_digest([code])
    (code / "m.py").write_text("X = 2\n")
    d2 = code_digest([code])
    assert d1 != d2 and d2 == code_digest([code])
    subs = tmp_path / "submissions"
    (subs / "run-1").mkdir(parents=True)
    (subs / "run-1" / "submission.json").write_text(json.dumps({"code_digest": d1, "taskmanager_pids": [101]}))
    assert "old code" in stale_code_warning(subs, d2, [101], "thread")
    assert stale_code_warning(subs, d1, [101], "thread") is None      # same code: fine
    assert stale_code_warning(subs, d2, [202], "thread") is None      # fresh TaskManager: fine
    assert stale_code_warning(subs, d2, [101], "process") is None     # process mode starts new workers


REPO = Path(__file__).resolve().parents[2]


def test_deploy_reference_config_has_every_generated_key(tmp_path):
    write_conf_dir(cfg_for(tmp_path, "cluster.prometheus_port=9249").cluster)
    generated = read_conf(tmp_path)
    reference = yaml.safe_load((REPO / "deploy" / "flink" / "config.yaml").read_text())
    prom = {k for k in generated if k.startswith("metrics.reporter.")}
    assert set(generated) - prom <= set(reference), set(generated) - prom - set(reference)
    assert prom <= set(yaml.safe_load((REPO / "deploy" / "prometheus" / "flink-reporter.yaml").read_text()))
    for key in ("rest.bind-address", "jobmanager.bind-host", "taskmanager.bind-host"):
        assert reference[key] == "127.0.0.1"


def test_kubernetes_deployment_runs_an_existing_entry_point():
    import importlib.util

    dep = yaml.safe_load((REPO / "deploy" / "k8s" / "flink-deployment.yaml").read_text())
    assert dep["kind"] == "FlinkDeployment" and dep["apiVersion"] == "flink.apache.org/v1beta1"
    job = dep["spec"]["job"]
    assert job["entryClass"] == "org.apache.flink.client.python.PythonDriver"
    module = job["args"][job["args"].index("-pym") + 1]
    assert importlib.util.find_spec(module) is not None
    conf = dep["spec"]["flinkConfiguration"]
    assert conf["state.backend.type"] == "rocksdb" and job["upgradeMode"] == "savepoint"
    rules = yaml.safe_load((REPO / "deploy" / "prometheus" / "recstream-rules.yml").read_text())
    assert all("expr" in r for g in rules["groups"] for r in g["rules"])
