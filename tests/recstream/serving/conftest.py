"""Serving fixtures: a store written by the real job (PyFlink mini-cluster, pseudonymised ids, the
demo model scoring) and real ``recstream serve`` processes on free ports."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from recstream.cluster.local import free_port

KEY = b"serving-test-pseudonym-key-0123456789"
API_KEY = "serving-test-api-key-abcdef012345"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def job_store(tmp_path_factory):
    """(config overrides, tmp dir, raw user ids) of a store the job wrote from a small synthetic stream."""
    from recstream.config import load_config
    from recstream.runner import run_local
    from recstream.sources.synthetic import SyntheticSpec, replay_lines

    tmp = tmp_path_factory.mktemp("serving_job")
    (tmp / "key").write_bytes(KEY)
    lines = list(replay_lines(SyntheticSpec(seed=5, n_users=40, n_items=200, n_events=2500, bot_users=0,
                                            late_fraction=0.0, malformed_fraction=0.0)))
    (tmp / "events.jsonl").write_text("\n".join(lines) + "\n")
    overrides = [f"store.sqlite.path={tmp / 'store.sqlite'}", "privacy.pseudonymize=true",
                 f"privacy.key_file={tmp / 'key'}"]
    summary = run_local(load_config(overrides=overrides + [f"job.work_dir={tmp}"]), tmp / "events.jsonl")
    assert summary.job_status == "FINISHED"
    import json

    raw_ids = sorted({json.loads(line)["user_id"] for line in lines})
    return overrides, tmp, raw_ids


class Server:
    """``recstream serve`` in a subprocess; ``client`` talks HTTP to it."""

    def __init__(self, args: list[str], env: dict | None = None, scheme: str = "http", verify=True) -> None:
        self.port = free_port()
        self.base = f"{scheme}://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "recstream", "serve", "--port", str(self.port), *args],
            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.base, timeout=30, verify=verify)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stdout.read().decode(errors='replace')}")
            try:
                self.client.get("/openapi.json")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def log(self) -> str:
        return self.proc.stdout.read().decode(errors="replace") if self.proc.poll() is not None else ""

    def close(self) -> str:
        self.client.close()
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out.decode(errors="replace")


@pytest.fixture(scope="session")
def server(job_store):
    """The server over the job's store, with pseudonymisation (the job's key) and API-key auth."""
    overrides, tmp, _ = job_store
    (tmp / "api-key").write_text(API_KEY + "\n")
    srv = Server([a for o in overrides for a in ("--set", o)] + ["--api-key-file", str(tmp / "api-key"),
                                                                 "--max-batch", "50"])
    srv.client.headers["X-API-Key"] = API_KEY
    yield srv
    srv.close()
