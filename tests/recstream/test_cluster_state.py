"""Cluster commands address the cluster `recstream cluster start` recorded, unless --config/--set name one;
with nothing started, `cluster status` says so instead of checking 127.0.0.1:8081."""
from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from typer.testing import CliRunner

from recstream.cli import app
from recstream.cluster.local import free_port, pid_alive
from recstream.cluster.rest import FlinkRest
from recstream.cluster.state import RECORD, forget, given_cluster_keys, remember, resolve
from recstream.config import load_config

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Every test in its own working directory: the default work dir and cluster home are relative."""
    monkeypatch.chdir(tmp_path)


class FakeFlink(BaseHTTPRequestHandler):
    """The three REST endpoints the commands read, answered by a real HTTP server."""
    OVERVIEW = {"flink-version": "2.x", "taskmanagers": 3, "slots-total": 3, "slots-available": 2,
                "jobs-running": 1, "jobs-finished": 0, "jobs-failed": 0, "jobs-cancelled": 0}

    def do_GET(self):
        body = {"/overview": self.OVERVIEW,
                "/jobs/overview": {"jobs": [{"jid": "j1", "name": "recstream", "state": "FINISHED",
                                             "duration": 1500}]},
                "/jobs/j1": {"jid": "j1", "state": "FINISHED"}}.get(self.path)
        self.send_response(200 if body else 404)
        self.end_headers()
        self.wfile.write(json.dumps(body or {"errors": ["not found"]}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_flink():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FakeFlink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def started(tmp_path, *overrides):
    """What a successful `cluster start` with these settings leaves behind."""
    cfg = load_config(overrides=list(overrides))
    cfg.cluster.home.mkdir(parents=True, exist_ok=True)
    return cfg, remember(cfg)


def test_the_record_is_followed_only_when_no_cluster_key_is_given(tmp_path):
    home = tmp_path / "elsewhere"
    _, record = started(tmp_path, f"cluster.home={home}", "cluster.rest_port=18081", "cluster.taskmanagers=3")
    assert record == home / RECORD and (tmp_path / "recstream-data" / "current-cluster").read_text() == f"{home}\n"

    t = resolve()
    assert t.source == "started" and t.home == home and t.record == record
    assert (t.cfg.cluster.rest_port, t.cfg.cluster.taskmanagers) == (18081, 3)
    assert t.describe() == (f"cluster {home} (REST http://127.0.0.1:18081), "
                            f"as `recstream cluster start` recorded it in {record}")
    # other sections still come from the command's own settings
    assert resolve(overrides=["job.parallelism=2"]).cfg.job.parallelism == 2
    # the home alone finds its record; the record's settings sit under the command's own
    assert resolve(overrides=[f"cluster.home={home}"]).cfg.cluster.rest_port == 18081
    assert resolve(overrides=[f"cluster.home={home}", "cluster.rest_port=18099"]).cfg.cluster.rest_port == 18099
    # any other cluster key names a cluster: the pointer is not followed
    named = resolve(overrides=["cluster.rest_port=18099"])
    assert named.source == "given" and named.home == (tmp_path / "recstream-data" / "cluster")
    (tmp_path / "c.yaml").write_text("cluster:\n  rest_port: 18098\n")
    assert given_cluster_keys([tmp_path / "c.yaml"], ["job.parallelism=2"]) == {"rest_port"}
    assert resolve([tmp_path / "c.yaml"]).source == "given"
    # a pointer in another work dir is another user's
    assert resolve(overrides=[f"job.work_dir={tmp_path / 'w2'}"]).source == "default"


def test_the_record_carries_the_clusters_checkpoint_and_restart_defaults(tmp_path):
    home = tmp_path / "c"
    started(tmp_path, f"cluster.home={home}", "checkpoint.state_backend=rocksdb", "restart.delay_s=2")
    t = resolve()
    assert (t.cfg.checkpoint.state_backend, t.cfg.restart.delay_s) == ("rocksdb", 2.0)
    assert t.cfg.checkpoint.interval_ms is None  # unset stays unset: a cluster's default when submitted
    assert resolve(overrides=["restart.delay_s=7"]).cfg.restart.delay_s == 7.0  # the command's own key wins


def test_a_record_of_an_older_version_is_moved_on_not_refused(tmp_path):
    """Records written while checkpoint / restart were cluster.checkpoint / cluster.restart."""
    home = tmp_path / "old"
    started(tmp_path, f"cluster.home={home}", "cluster.rest_port=18082")
    record = home / RECORD
    data = yaml.safe_load(record.read_text())
    data["cluster"].update(checkpoint={"interval_ms": 10000, "state_backend": "rocksdb"},
                           restart={"attempts": 3, "delay_s": 5.0})
    del data["checkpoint"], data["restart"]
    record.write_text(yaml.safe_dump(data))
    t = resolve()
    assert t.source == "started" and t.cfg.cluster.rest_port == 18082
    assert (t.cfg.checkpoint.interval_ms, t.cfg.checkpoint.state_backend, t.cfg.restart.attempts) == \
        (10000, "rocksdb", 3)
    assert "checkpoint" not in yaml.safe_load(record.read_text())["cluster"]


def test_forget_drops_the_record_and_only_its_own_pointer(tmp_path):
    first, _ = started(tmp_path, f"cluster.home={tmp_path / 'a'}")
    second, _ = started(tmp_path, f"cluster.home={tmp_path / 'b'}")
    assert resolve().home == tmp_path / "b"  # the cluster started last
    forget(resolve(overrides=[f"cluster.home={tmp_path / 'a'}"]))
    assert not (tmp_path / "a" / RECORD).exists() and resolve().home == tmp_path / "b"
    forget(resolve())
    assert not (tmp_path / "b" / RECORD).exists() and resolve().source == "default"


def test_status_with_nothing_started_says_so_and_checks_no_port(monkeypatch):
    def no_probe(self):
        raise AssertionError(f"probed {self.base}")

    monkeypatch.setattr(FlinkRest, "overview", no_probe)
    out = cli("cluster", "status")
    assert out.exit_code == 1
    assert "no cluster started" in flat(out.output) and "recstream cluster start" in flat(out.output)
    st = json.loads(cli("cluster", "status", "--json").stdout)
    assert st["source"] == "none" and st["rest"] is None and st["overview"] is None


def test_commands_address_the_recorded_cluster(tmp_path, fake_flink):
    home = tmp_path / "c1"
    started(tmp_path, f"cluster.home={home}", f"cluster.rest_port={fake_flink}")

    out = cli("cluster", "status", "--json")
    assert out.exit_code == 0, out.output
    st = json.loads(out.stdout)
    assert st["source"] == "started" and st["home"] == str(home) and st["rest"] == f"http://127.0.0.1:{fake_flink}"
    assert st["overview"]["taskmanagers"] == 3 and [j["jid"] for j in st["jobs"]] == ["j1"]

    text = cli("cluster", "status")
    assert text.exit_code == 0
    assert f"cluster {home} (REST http://127.0.0.1:{fake_flink}), as `recstream cluster start` recorded it" \
        in flat(text.output)
    assert "3 TaskManager(s)" in flat(text.output)

    waited = cli("wait", "j1", "--timeout-s", 30)
    assert waited.exit_code == 0 and "job j1 FINISHED" in flat(waited.output)
    # named explicitly, another (absent) cluster is checked as asked
    other = cli("cluster", "status", "--json", "--set", f"cluster.rest_port={free_port()}")
    assert other.exit_code == 1 and json.loads(other.stdout)["source"] == "given"


def test_stop_without_settings_stops_the_recorded_cluster_and_forgets_it(tmp_path):
    home = tmp_path / "c2"
    started(tmp_path, f"cluster.home={home}", f"cluster.rest_port={free_port()}")
    proc = subprocess.Popen(["sleep", "300"])
    try:
        (home / "pid").mkdir(parents=True)
        (home / "pid" / "flink--taskexecutor.pid").write_text(f"{proc.pid}\n")
        out = cli("cluster", "stop")
        assert out.exit_code == 0, out.output
        assert f"stopped pids [{proc.pid}]" in flat(out.output) and f"cluster {home}" in flat(out.output)
        proc.wait(timeout=30)
        assert not pid_alive(proc.pid)
        assert not (home / RECORD).exists() and not (tmp_path / "recstream-data" / "current-cluster").exists()
        assert "no cluster started" in flat(cli("cluster", "status").output)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_wait_and_cancel_without_a_rest_api_fail_in_one_line():
    port = free_port()
    for args in (["wait", "j1"], ["cancel", "j1"]):
        out = cli(*args, "--set", f"cluster.rest_port={port}")
        assert out.exit_code == 1 and isinstance(out.exception, SystemExit), (args, out.exception)
        assert f"cannot reach the Flink REST API at http://127.0.0.1:{port}" in flat(out.output), args
        assert "Traceback" not in out.output


def test_a_failed_start_records_nothing(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        out = cli("cluster", "start", "--set", f"cluster.home={tmp_path / 'c3'}",
                  "--set", f"cluster.rest_port={busy.getsockname()[1]}")
    assert out.exit_code == 1 and "in use" in flat(out.output)
    assert not (tmp_path / "c3" / RECORD).exists() and not (tmp_path / "recstream-data" / "current-cluster").exists()


@pytest.mark.flink
@pytest.mark.cluster
def test_real_cluster_start_status_stop_without_repeating_settings(tmp_path):
    home = tmp_path / "real"
    sets = ["--set", f"cluster.home={home}", "--set", f"cluster.rest_port={free_port()}",
            "--set", f"cluster.rpc_port={free_port()}", "--set", "cluster.taskmanagers=1"]
    out = cli("cluster", "start", *sets)
    try:
        assert out.exit_code == 0, out.output
        assert f"record  {home / RECORD}\n" in out.output
        st = cli("cluster", "status", "--json")
        assert st.exit_code == 0, st.output
        got = json.loads(st.stdout)
        assert got["source"] == "started" and got["home"] == str(home) and got["overview"]["taskmanagers"] == 1
    finally:
        stop = cli("cluster", "stop")
    assert stop.exit_code == 0 and "stopped pids" in stop.output, stop.output
    assert cli("cluster", "status").exit_code == 1 and not (home / RECORD).exists()
