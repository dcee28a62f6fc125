"""``recstream cassandra init | check``: create the serving keyspace and tables, and check a cluster."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from recstream.cli.options import ConfigOpt, console, fail, load_cli_config, quiet_cassandra_driver, set_option

cassandra_app = typer.Typer(help="Cassandra serving store: schema and connectivity (see docs/cassandra.md).",
                            no_args_is_help=True)

SetOpt = set_option("store.cassandra.keyspace=rs")
HostsOpt = typer.Option(None, "--hosts", help="contact points host[:port],... (default: store.cassandra.hosts, "
                                              "then $RECSTREAM_CASSANDRA_HOSTS)")


def _cfg(config, overrides, hosts: Optional[str]):
    quiet_cassandra_driver()
    extra = [f"store.cassandra.hosts=[{', '.join(repr(h.strip()) for h in hosts.split(','))}]"] if hosts else []
    return load_cli_config(config, overrides, extra).store.cassandra


@cassandra_app.command("init")
def init(
    dry_run: bool = typer.Option(False, "--dry-run", help="print the CQL, connect to nothing"),
    hosts: Optional[str] = HostsOpt,
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
):
    """Create the keyspace (store.cassandra.replication) and tables (TTLs from store.cassandra.ttl)."""
    cfg = _cfg(config, overrides, hosts)
    from recstream.store.cassandra.schema import render_cql, schema_statements

    if dry_run:
        print(render_cql(cfg).rstrip())
        print("\n-- then, so that a re-run applies changed TTLs:")
        for stmt in schema_statements(cfg):
            if stmt.startswith("ALTER TABLE"):
                print(stmt + ";")
        return
    from recstream.store.base import StoreError
    from recstream.store.cassandra.store import connect
    from recstream.store.cassandra.schema import apply_schema

    try:
        cluster, session = connect(cfg)
    except StoreError as exc:
        fail(exc)
    try:
        hosts_seen = ", ".join(sorted(str(h.endpoint) for h in cluster.metadata.all_hosts()))
        console.print(f"connected to cluster {cluster.metadata.cluster_name!r} ({hosts_seen})")
        apply_schema(session, cfg, echo=console.print)
    except Exception as exc:
        fail(exc)
    finally:
        cluster.shutdown()
    console.print(f"[green]keyspace {cfg.keyspace} ready[/green]")


@cassandra_app.command("check")
def check(hosts: Optional[str] = HostsOpt, config: Optional[List[Path]] = ConfigOpt,
          overrides: Optional[List[str]] = SetOpt):
    """Connect, list the nodes with their data centres, and open the store (prepares every statement)."""
    cfg = _cfg(config, overrides, hosts)
    from recstream.store.base import StoreError
    from recstream.store.cassandra.store import CassandraStore

    try:
        store = CassandraStore(cfg, read_only=False)
    except StoreError as exc:
        fail(exc)
    with store:
        meta = store.cluster.metadata
        console.print(f"cluster {meta.cluster_name!r}")
        for h in sorted(meta.all_hosts(), key=lambda h: str(h.endpoint)):
            console.print(f"  {h.endpoint}  dc={h.datacenter} rack={h.rack} up={h.is_up} "
                          f"version={h.release_version}")
        ks = meta.keyspaces[cfg.keyspace]
        console.print(f"keyspace {cfg.keyspace}: {ks.replication_strategy.export_for_schema()}; "
                      f"tables: {', '.join(sorted(ks.tables))}")
    console.print("[green]store opens: every statement prepared[/green]")


def register(app: typer.Typer) -> None:
    app.add_typer(cassandra_app, name="cassandra")
