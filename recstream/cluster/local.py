"""Start, stop and inspect a local standalone Flink cluster, every process tracked by pid.

Daemons are started with the package's ``bin/jobmanager.sh start`` / ``bin/taskmanager.sh start``
(no ssh, unlike ``start-cluster.sh`` with remote workers); each appends its pid to a pid file in
``<cluster.home>/pid``. :meth:`LocalCluster.stop` signals every pid found there (and the Python
workers they spawned), waits, and kills what is left.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from recstream.cluster.conf import BIND_HOST, ClusterLayout, flink_home, process_env, write_conf_dir
from recstream.cluster.rest import FlinkRest, RestError
from recstream.config.models import CheckpointConfig, ClusterConfig, RestartConfig
from recstream.ports import free_port, port_free  # noqa: F401 (free_port: imported from here by tests)


class ClusterError(RuntimeError):
    """The cluster could not be started, or is not running when it must be."""


@dataclass
class Daemon:
    kind: str  # standalonesession | taskexecutor
    pid: int

    @property
    def alive(self) -> bool:
        return pid_alive(self.pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def children_of(pid: int) -> list[int]:
    """All descendants of ``pid`` (Linux /proc), deepest last."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class LocalCluster:
    def __init__(self, cluster: ClusterConfig, checkpoint: CheckpointConfig | None = None,
                 restart: RestartConfig | None = None) -> None:
        """``checkpoint`` / ``restart``: the sections whose keys the generated config.yaml holds as the
        cluster's job defaults (None: the sections' defaults)."""
        self.cfg = cluster
        self.checkpoint, self.restart = checkpoint, restart
        self.layout = ClusterLayout.of(cluster)
        self.rest = FlinkRest(f"http://{BIND_HOST}:{cluster.rest_port}")

    @property
    def url(self) -> str:
        return self.rest.base

    # -- processes -------------------------------------------------------------------------
    def daemons(self) -> list[Daemon]:
        """Every pid recorded in the pid files (alive or not)."""
        out = []
        if not self.layout.pid.is_dir():
            return out
        for f in sorted(self.layout.pid.glob("*.pid")):
            kind = f.stem.rsplit("-", 1)[-1]
            for line in f.read_text().split():
                if line.strip().isdigit():
                    out.append(Daemon(kind, int(line)))
        return out

    def running(self) -> list[Daemon]:
        return [d for d in self.daemons() if d.alive]

    def taskmanagers(self) -> list[Daemon]:
        return [d for d in self.running() if d.kind == "taskexecutor"]

    def _script(self, name: str, *args: str) -> None:
        script = flink_home() / "bin" / name
        out = subprocess.run(["bash", str(script), *args], env=process_env(self.layout), capture_output=True,
                             text=True, timeout=120, cwd=self.layout.home)
        if out.returncode != 0:
            raise ClusterError(f"{name} {' '.join(args)} failed ({out.returncode}): {out.stderr or out.stdout}")

    def start(self, wait: bool = True) -> dict:
        """Generate the config, start one JobManager and ``cluster.taskmanagers`` TaskManagers, and
        wait until REST ``/overview`` shows every slot. Returns the overview."""
        if self.running():
            raise ClusterError(f"a cluster is already running from {self.layout.home} "
                               f"(pids {[d.pid for d in self.running()]}); stop it first")
        for port in (self.cfg.rest_port, self.cfg.rpc_port):
            if not port_free(port):
                raise ClusterError(f"port {port} on {BIND_HOST} is in use (set cluster.rest_port / cluster.rpc_port)")
        write_conf_dir(self.cfg, checkpoint=self.checkpoint, restart=self.restart)
        for f in self.layout.pid.glob("*.pid"):  # stale pids of a previous cluster
            f.unlink()
        try:
            self._script("jobmanager.sh", "start")
            for _ in range(self.cfg.taskmanagers):
                self._script("taskmanager.sh", "start")
            return self.wait_ready(self.cfg.taskmanagers) if wait else {}
        except BaseException:
            self.stop()
            raise

    def add_taskmanager(self, wait: bool = True) -> Daemon:
        """Start one more TaskManager (e.g. to replace one that died: standalone mode has no
        resource manager that would). Returns its daemon."""
        before = {d.pid for d in self.taskmanagers()}
        self._script("taskmanager.sh", "start")
        new = [d for d in self.taskmanagers() if d.pid not in before]
        if not new:
            raise ClusterError("taskmanager.sh start recorded no new pid")
        if wait:
            self.wait_ready(len(self.taskmanagers()))
        return new[0]

    def wait_ready(self, taskmanagers: int, timeout_s: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout_s or self.cfg.start_timeout_s)
        last: object = None
        while time.monotonic() < deadline:
            if not any(d.kind == "standalonesession" for d in self.running()):
                raise ClusterError(f"the JobManager exited; see {self.layout.log}")
            try:
                ov = self.rest.overview()
                if ov.get("taskmanagers", 0) >= taskmanagers and ov.get("slots-total", 0) >= taskmanagers * self.cfg.slots:
                    return ov
                last = ov
            except (RestError, OSError) as exc:
                last = exc
            time.sleep(0.5)
        raise ClusterError(f"cluster not ready after {timeout_s or self.cfg.start_timeout_s} s (last: {last}); "
                           f"logs in {self.layout.log}")

    def stop(self, timeout_s: float = 30.0) -> list[int]:
        """SIGTERM every recorded daemon and its child processes, SIGKILL what is left after
        ``timeout_s``; remove the pid files. Returns the pids signalled."""
        daemons = self.running()
        pids = []
        for d in daemons:
            pids.extend([d.pid] + children_of(d.pid))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
            time.sleep(0.2)
        for pid in pids:
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for pid in pids:
            _reap(pid)
        if self.layout.pid.is_dir():
            for f in self.layout.pid.glob("*.pid"):
                f.unlink()
        return pids

    def status(self) -> dict:
        """Pids and REST ``/overview`` (``None`` when the REST endpoint does not answer)."""
        daemons = self.daemons()
        try:
            overview = self.rest.overview()
        except (RestError, OSError):
            overview = None
        return {"home": str(self.layout.home), "rest": self.url,
                "processes": [{"kind": d.kind, "pid": d.pid, "alive": d.alive} for d in daemons],
                "overview": overview}


def _reap(pid: int) -> None:
    """Collect an exited child of this process (daemons are not; their children may be)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    except OSError:
        pass
