"""Configuration of the Cassandra store (``store.cassandra``): contact points, replication,
consistency, per-table TTLs, write concurrency and retries, auth and TLS.

Secrets never live in the configuration: the password is read, when the store
connects, from the environment variable named by ``auth.password_env`` or from the
file named by ``auth.password_file``. The configuration therefore pickles (into a
Flink job graph) and prints without revealing it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HOSTS_ENV = "RECSTREAM_CASSANDRA_HOSTS"
USERNAME_ENV = "RECSTREAM_CASSANDRA_USERNAME"
PASSWORD_ENV = "RECSTREAM_CASSANDRA_PASSWORD"
MAX_TTL_S = 630_720_000  # Cassandra's limit: 20 years

Consistency = Literal["ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"]
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplicationConfig(_Section):
    """``SimpleStrategy`` (one data centre, development) or ``NetworkTopologyStrategy`` (production)."""

    strategy: Literal["SimpleStrategy", "NetworkTopologyStrategy"] = "SimpleStrategy"
    replication_factor: int = Field(1, ge=1, description="SimpleStrategy only")
    datacenters: dict[str, int] = Field(default_factory=dict, description="NetworkTopologyStrategy: DC -> RF")

    @model_validator(mode="after")
    def _check(self):
        if self.strategy == "NetworkTopologyStrategy":
            if not self.datacenters:
                raise ValueError("NetworkTopologyStrategy needs replication factors per data centre: "
                                 "store.cassandra.replication.datacenters={dc1: 3, ...}")
            for dc, rf in self.datacenters.items():
                if not re.match(r"^[A-Za-z0-9_.\-]+$", dc):
                    raise ValueError(f"data centre name {dc!r} may only hold letters, digits, '_', '-', '.'")
                if not isinstance(rf, int) or rf < 1:
                    raise ValueError(f"replication factor of data centre {dc!r} must be an integer >= 1, got {rf!r}")
        elif self.datacenters:
            raise ValueError("replication.datacenters applies to NetworkTopologyStrategy only; "
                             "SimpleStrategy takes replication.replication_factor")
        return self

    def cql_map(self) -> str:
        """The replication map as CQL, e.g. ``{'class': 'SimpleStrategy', 'replication_factor': 1}``."""
        if self.strategy == "SimpleStrategy":
            return f"{{'class': 'SimpleStrategy', 'replication_factor': {self.replication_factor}}}"
        dcs = ", ".join(f"'{dc}': {rf}" for dc, rf in sorted(self.datacenters.items()))
        return f"{{'class': 'NetworkTopologyStrategy', {dcs}}}"


class TtlConfig(_Section):
    """Time to live per table in seconds (0: rows never expire). Every write carries its table's TTL."""

    user_features_s: int = Field(30 * 86_400, ge=0, le=MAX_TTL_S)
    user_sequence_s: int = Field(30 * 86_400, ge=0, le=MAX_TTL_S)
    user_scores_s: int = Field(30 * 86_400, ge=0, le=MAX_TTL_S)
    item_features_s: int = Field(90 * 86_400, ge=0, le=MAX_TTL_S)
    popular_items_s: int = Field(7 * 86_400, ge=0, le=MAX_TTL_S)
    model_versions_s: int = Field(0, ge=0, le=MAX_TTL_S)
    dead_letters_s: int = Field(14 * 86_400, ge=0, le=MAX_TTL_S)
    run_stats_s: int = Field(30 * 86_400, ge=0, le=MAX_TTL_S)

    def for_table(self, table: str) -> int:
        return getattr(self, f"{table}_s")


class RetryConfig(_Section):
    """Exponential backoff for transient errors (timeouts, unavailable replicas, no host);
    after ``max_attempts`` the write raises and the Flink task fails over to its checkpoint."""

    max_attempts: int = Field(6, ge=1)
    initial_backoff_s: float = Field(0.1, ge=0)
    max_backoff_s: float = Field(10.0, ge=0)
    multiplier: float = Field(2.0, ge=1)
    jitter: float = Field(0.2, ge=0, le=1, description="each delay is shortened by up to this fraction at random")


class AuthConfig(_Section):
    """PlainText authentication; the password only from an environment variable or a file."""

    username: str | None = Field(None, description=f"default: ${USERNAME_ENV} when set")
    password_env: str = PASSWORD_ENV
    password_file: Path | None = None

    def resolve_username(self) -> str | None:
        return self.username or os.environ.get(USERNAME_ENV) or None

    def resolve_password(self) -> str:
        """The password (never logged). Raises ``ValueError`` naming where it was looked for."""
        if self.password_file is not None:
            try:
                return self.password_file.read_text().rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"cannot read the Cassandra password file {self.password_file}: "
                                 f"{exc.strerror}") from None
        value = os.environ.get(self.password_env)
        if not value:
            raise ValueError(f"Cassandra user is set but no password: set the environment variable "
                             f"{self.password_env} or store.cassandra.auth.password_file")
        return value


class TlsConfig(_Section):
    enabled: bool = False
    ca_file: Path | None = Field(None, description="CA bundle to verify the nodes (default: system CAs)")
    cert_file: Path | None = Field(None, description="client certificate (mutual TLS)")
    key_file: Path | None = Field(None, description="client key (mutual TLS)")
    check_hostname: bool = True

    @model_validator(mode="after")
    def _pair(self):
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls.cert_file and tls.key_file go together (client certificate and its key)")
        return self


class CassandraStoreConfig(_Section):
    hosts: list[str] = Field(default_factory=list,
                             description=f"contact points host[:port]; empty: ${HOSTS_ENV} (comma separated)")
    port: int = Field(9042, ge=1, le=65535)
    local_dc: str = Field("datacenter1", description="data centre the client prefers (DCAwareRoundRobinPolicy)")
    keyspace: str = "recstream"
    replication: ReplicationConfig = ReplicationConfig()
    write_consistency: Consistency = "LOCAL_QUORUM"
    read_consistency: Consistency = "LOCAL_QUORUM"
    ttl: TtlConfig = TtlConfig()
    max_in_flight: int = Field(64, ge=1, description="bound on concurrent requests per store instance")
    request_timeout_s: float = Field(10.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)
    protocol_version: int | None = Field(None, ge=3, le=6, description="None: negotiate")
    retry: RetryConfig = RetryConfig()
    auth: AuthConfig | None = None
    tls: TlsConfig = TlsConfig()
    popular_shards: int = Field(4, ge=1, le=64, description="copies of each popular-items list (spreads hot reads)")
    dead_letter_shards: int = Field(8, ge=1, le=256, description="partitions per run and hour for dead letters")

    @field_validator("keyspace")
    @classmethod
    def _keyspace(cls, v: str) -> str:
        if not _IDENT.match(v):
            raise ValueError(f"keyspace {v!r} must start with a letter and hold only letters, digits and '_' "
                             "(at most 48 characters)")
        return v

    @field_validator("read_consistency")
    @classmethod
    def _read_cl(cls, v: str) -> str:
        if v in ("ANY", "EACH_QUORUM"):
            raise ValueError(f"{v} is not a read consistency level")
        return v

    def contact_points(self) -> list[tuple[str, int]]:
        """``(host, port)`` pairs from ``hosts`` or, when empty, from ``$RECSTREAM_CASSANDRA_HOSTS``."""
        raw = self.hosts or [h for h in os.environ.get(HOSTS_ENV, "").split(",") if h.strip()]
        if not raw:
            raise ValueError(f"no Cassandra hosts: set store.cassandra.hosts or ${HOSTS_ENV}")
        out = []
        for h in raw:
            h = h.strip()
            host, port = h, self.port
            if h.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
                host, p = h.split(":")
                if not p.isdigit():
                    raise ValueError(f"Cassandra host {h!r}: port must be a number")
                port = int(p)
            out.append((host, port))
        return out
