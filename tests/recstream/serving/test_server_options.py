"""``recstream serve`` options: HTTPS, the API key from the environment, and refusing to start when
pseudonymisation is on but its key is missing."""
from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys

import pytest

from recstream.store.base import FeatureRow
from recstream.store.sqlite import SqliteStore
from tests.recstream.serving.conftest import ROOT, Server

ENV_KEY = "env-api-key-for-the-tls-test-000"


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "store.sqlite"
    with SqliteStore(path) as st:
        st.upsert_features([FeatureRow("u1", 5, 1, json.dumps({"event_count": 1}), "[]")])
    return path


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI to make a test certificate")
def test_https_with_the_api_key_from_the_environment(tmp_path, store_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    ctx = ssl.create_default_context(cafile=str(cert))
    srv = Server(["--store", str(store_path), "--tls-cert", str(cert), "--tls-key", str(key),
                  "--api-key-env", "TEST_SERVE_KEY"], env={"TEST_SERVE_KEY": ENV_KEY}, scheme="https", verify=ctx)
    try:
        assert srv.client.get("/users/u1").status_code == 401
        got = srv.client.get("/users/u1", params={"as_of": "event"}, headers={"X-API-Key": ENV_KEY})
        assert got.status_code == 200 and got.json()["features"] == {"event_count": 1}
    finally:
        srv.close()


def test_pseudonymisation_without_its_key_refuses_to_start(store_path, tmp_path):
    out = subprocess.run([sys.executable, "-m", "recstream", "serve", "--store", str(store_path), "--set",
                          "privacy.pseudonymize=true", "--set", "privacy.key_env=NO_SUCH_KEY_VAR"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "NO_SUCH_KEY_VAR" in out.stderr


def test_a_short_api_key_refuses_to_start(store_path, tmp_path):
    (tmp_path / "k").write_text("t1ny-k3y")
    out = subprocess.run([sys.executable, "-m", "recstream", "serve", "--store", str(store_path),
                          "--api-key-file", str(tmp_path / "k")], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "need at least 16" in out.stderr and "t1ny-k3y" not in out.stderr
