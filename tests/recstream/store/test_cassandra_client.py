"""Client setup that runs without a Cassandra server: load balancing, consistency, auth, TLS,
secret handling, and the error a real driver raises when no node answers."""
from __future__ import annotations

import logging
import pickle
import socket
import subprocess

import pytest

from recstream.config import load_config
from recstream.store.base import StoreError
from recstream.store.cassandra.store import READ_PROFILE, CassandraStore, build_ssl_context, cluster_options
from recstream.store.cassandra.config import CassandraStoreConfig, TlsConfig
from recstream.store.factory import open_store_spec, store_spec

SECRET = "pw-Zq81-never-printed"


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_token_aware_dc_aware_profiles_with_configured_consistency():
    from cassandra import ConsistencyLevel
    from cassandra.cluster import EXEC_PROFILE_DEFAULT
    from cassandra.policies import DCAwareRoundRobinPolicy, FallthroughRetryPolicy, TokenAwarePolicy

    cfg = CassandraStoreConfig(hosts=["n1", "n2:9142"], local_dc="eu-west", write_consistency="EACH_QUORUM",
                               read_consistency="LOCAL_ONE", request_timeout_s=3.5, protocol_version=5)
    opts = cluster_options(cfg)
    assert opts["contact_points"] == [("n1", 9042), ("n2", 9142)] and opts["protocol_version"] == 5
    write, read = opts["execution_profiles"][EXEC_PROFILE_DEFAULT], opts["execution_profiles"][READ_PROFILE]
    for profile in (write, read):
        lbp = profile.load_balancing_policy
        assert isinstance(lbp, TokenAwarePolicy) and isinstance(lbp._child_policy, DCAwareRoundRobinPolicy)
        assert lbp._child_policy.local_dc == "eu-west"
        assert isinstance(profile.retry_policy, FallthroughRetryPolicy)  # retries: ours, with backoff
        assert profile.request_timeout == 3.5
    assert write.consistency_level == ConsistencyLevel.EACH_QUORUM
    assert read.consistency_level == ConsistencyLevel.LOCAL_ONE
    assert "auth_provider" not in opts and "ssl_context" not in opts


def test_password_only_from_env_or_file_and_never_in_config_output(monkeypatch, tmp_path):
    monkeypatch.setenv("MY_CASS_PW", SECRET)
    cfg = load_config([], ["store.kind=cassandra", "store.cassandra.hosts=[db1]",
                           "store.cassandra.auth.username=svc", "store.cassandra.auth.password_env=MY_CASS_PW"])
    opts = cluster_options(cfg.store.cassandra)
    assert opts["auth_provider"].username == "svc" and opts["auth_provider"].password == SECRET
    spec = store_spec(cfg.store)
    for text in (repr(cfg), str(cfg), cfg.model_dump_json(), repr(spec), pickle.dumps(spec)):
        assert (SECRET.encode() if isinstance(text, bytes) else SECRET) not in text
    pw_file = tmp_path / "pw"
    pw_file.write_text("from-file-secret\n")
    cfg2 = CassandraStoreConfig(hosts=["db1"], auth={"username": "svc", "password_file": str(pw_file)})
    assert cluster_options(cfg2)["auth_provider"].password == "from-file-secret"


def test_missing_password_or_user_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("RECSTREAM_CASSANDRA_PASSWORD", raising=False)
    monkeypatch.delenv("RECSTREAM_CASSANDRA_USERNAME", raising=False)
    with pytest.raises(StoreError, match="set the environment variable RECSTREAM_CASSANDRA_PASSWORD"):
        cluster_options(CassandraStoreConfig(hosts=["h"], auth={"username": "svc"}))
    with pytest.raises(StoreError, match="no user name"):
        cluster_options(CassandraStoreConfig(hosts=["h"], auth={}))
    monkeypatch.setenv("RECSTREAM_CASSANDRA_USERNAME", "env-user")
    monkeypatch.setenv("RECSTREAM_CASSANDRA_PASSWORD", SECRET)
    assert cluster_options(CassandraStoreConfig(hosts=["h"], auth={}))["auth_provider"].username == "env-user"
    with pytest.raises(StoreError, match="cannot read the Cassandra password file .*missing"):
        cluster_options(CassandraStoreConfig(hosts=["h"], auth={"username": "u", "password_file": str(tmp_path / "missing")}))


def test_unreachable_cluster_error_names_hosts_not_secrets(monkeypatch, caplog):
    """A real driver connecting to a port where nothing listens."""
    monkeypatch.setenv("RECSTREAM_CASSANDRA_PASSWORD", SECRET)
    port = closed_port()
    cfg = CassandraStoreConfig(hosts=[f"127.0.0.1:{port}"], auth={"username": "svc"}, connect_timeout_s=2)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreError) as info:
        CassandraStore(cfg)
    msg = str(info.value)
    assert f"cannot reach Cassandra at 127.0.0.1:{port}" in msg and "Connection refused" in msg
    assert SECRET not in msg and SECRET not in caplog.text
    assert info.value.__cause__ is None  # the driver's exception (and its context) is not chained along
    spec = store_spec(load_config([], ["store.kind=cassandra", f"store.cassandra.hosts=['127.0.0.1:{port}']"]).store)
    with pytest.raises(StoreError, match="cannot reach Cassandra"):
        open_store_spec(spec)


def _make_certs(tmp_path):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=client", "-keyout", "client.key", "-out", "client.csr")
    run("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-out", "client.pem")
    return tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client.key"


def test_tls_context_from_ca_cert_and_key_files(tmp_path):
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available to make test certificates")
    ca, cert, key = _make_certs(tmp_path)
    ctx = build_ssl_context(TlsConfig(enabled=True, ca_file=ca, cert_file=cert, key_file=key))
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert [c["subject"] for c in ctx.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    loose = build_ssl_context(TlsConfig(enabled=True, ca_file=ca, check_hostname=False))
    assert loose.verify_mode == ssl.CERT_REQUIRED and not loose.check_hostname
    opts = cluster_options(CassandraStoreConfig(hosts=["h"], tls={"enabled": True, "ca_file": str(ca)}))
    assert isinstance(opts["ssl_context"], ssl.SSLContext)
    with pytest.raises(StoreError, match=r"tls\.ca_file: .* is not a file"):
        build_ssl_context(TlsConfig(enabled=True, ca_file=tmp_path / "nope.pem"))
    with pytest.raises(StoreError, match="cannot load certificates"):
        build_ssl_context(TlsConfig(enabled=True, ca_file=ca, cert_file=cert, key_file=ca))
