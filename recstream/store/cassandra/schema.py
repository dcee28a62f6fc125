"""Render ``schemas/cassandra.cql`` for a configuration and apply it to a cluster.

The keyspace name, its replication map and each table's default TTL come from
``store.cassandra``; everything else is the file as shipped. Tables are created
with ``IF NOT EXISTS`` and then their ``default_time_to_live`` is set again, so
re-running ``recstream cassandra init`` after a TTL change applies the new TTL; the
replication of an existing keyspace is left alone (changing it needs a repair,
see docs/cassandra.md).
"""
from __future__ import annotations

import re
from string import Template

from recstream.store.cassandra.config import CassandraStoreConfig
from schemas import read_text

SCHEMA_FILE = "cassandra.cql"
# table -> TtlConfig field prefix
TABLE_TTL = {
    "user_features": "user_features", "user_sequence": "user_sequence", "user_scores": "user_scores",
    "item_features": "item_features", "popular_items": "popular_items", "model_versions": "model_versions",
    "dead_letters": "dead_letters", "dead_letter_partitions": "dead_letters", "run_stats": "run_stats",
}


def render_cql(cfg: CassandraStoreConfig) -> str:
    """The schema file with keyspace, replication and TTLs filled in (comments kept)."""
    values = {"keyspace": cfg.keyspace, "replication": cfg.replication.cql_map()}
    values.update({f"ttl_{t}": str(cfg.ttl.for_table(t)) for t in set(TABLE_TTL.values())})
    return Template(read_text(SCHEMA_FILE)).substitute(values)


def schema_statements(cfg: CassandraStoreConfig) -> list[str]:
    """Executable statements: the rendered file without comments, then one TTL ``ALTER`` per table."""
    text = "\n".join(re.sub(r"--.*$", "", line).rstrip() for line in render_cql(cfg).splitlines())
    stmts = [" ".join(s.split()) for s in text.split(";") if s.strip()]
    stmts += [f"ALTER TABLE {cfg.keyspace}.{t} WITH default_time_to_live = {cfg.ttl.for_table(ttl)}"
              for t, ttl in TABLE_TTL.items()]
    return stmts


def describe(stmt: str) -> str:
    """One line saying what a statement does (for ``init`` output)."""
    m = re.match(r"CREATE (KEYSPACE|TABLE) IF NOT EXISTS (\S+)", stmt)
    if m:
        extra = ""
        ttl = re.search(r"default_time_to_live = (\d+)", stmt)
        if m.group(1) == "KEYSPACE":
            extra = " replication " + stmt.split("replication = ", 1)[1].split(" AND ")[0]
        elif ttl:
            extra = f" (default TTL {ttl.group(1)} s)"
        return f"create {m.group(1).lower()} if missing: {m.group(2)}{extra}"
    m = re.match(r"ALTER TABLE (\S+) WITH default_time_to_live = (\d+)", stmt)
    if m:
        return f"set default TTL of {m.group(1)} to {m.group(2)} s"
    return stmt[:80]


def apply_schema(session, cfg: CassandraStoreConfig, echo=print) -> list[str]:
    """Run every statement (schema changes wait for agreement); returns the descriptions."""
    done = []
    for stmt in schema_statements(cfg):
        session.execute(stmt, timeout=max(cfg.request_timeout_s, 60.0))
        done.append(describe(stmt))
        echo(done[-1])
    if not session.cluster.control_connection.wait_for_schema_agreement(wait_time=60):
        echo("warning: nodes did not agree on the schema within 60 s; check `nodetool describecluster`")
    ks = session.cluster.metadata.keyspaces.get(cfg.keyspace)
    if ks is not None:
        want = cfg.replication.cql_map()
        have = ks.replication_strategy.export_for_schema() if ks.replication_strategy else "?"
        if _norm(have) != _norm(want):
            echo(f"note: keyspace {cfg.keyspace} already exists with replication {have}; "
                 f"config asks for {want}. Not changed: ALTER KEYSPACE by hand, then run a full repair.")
    return done


def _norm(repl: str) -> dict:
    pairs = re.findall(r"'([^']+)'\s*:\s*'?([^',}]+)'?", repl)
    out = {}
    for k, v in pairs:
        v = v.strip()
        if k == "class":
            v = v.rsplit(".", 1)[-1]
        out[k] = v
    return out
