"""``recstream serve-read`` and ``recstream inspect``: what the job stored, read through the reader API
downstream services use, from the configured store (embedded SQLite by default, Cassandra with
``--set store.kind=cassandra``).

``inspect user`` and ``serve-read user`` are one command (:func:`user`) under two names."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from recstream.cli.options import (ConfigOpt, StoreOpt, console, err, fail, load_cli_config, quiet_cassandra_driver,
                                   set_option)

serve_app = typer.Typer(help="Read stored user states, top-K, items and model versions as JSON "
                             "(the reader API downstream services use).", no_args_is_help=True)
inspect_app = typer.Typer(help="Read what the job stored.", no_args_is_help=True)

SetOpt = set_option("store.kind=cassandra")


def open_cli_reader(config, overrides, store: Optional[Path]):
    """The reader on the configured store and the config; a missing or unreachable store exits 1."""
    quiet_cassandra_driver()
    from recstream.reader import open_reader
    from recstream.store.base import StoreError

    cfg = load_cli_config(config, overrides, store=store)
    try:
        return open_reader(config=cfg), cfg
    except (FileNotFoundError, StoreError) as exc:
        fail(exc)


def _emit(value, what: str, cfg) -> None:
    if value is None:
        where = cfg.store.sqlite.path if cfg.store.kind == "sqlite" else f"keyspace {cfg.store.cassandra.keyspace}"
        err.print(f"{what} not found in the {cfg.store.kind} store ({where})")
        raise typer.Exit(1)
    print(json.dumps(value, sort_keys=True, indent=2 if sys.stdout.isatty() else None))


def read_user(reader, user_id: str, top_k: bool = False, k: Optional[int] = None, with_scores: bool = True,
              as_of="now"):
    """A user's stored state (features, sequence, and scores unless ``with_scores`` is false) with its
    features as of ``as_of`` (``recstream.reader``), or with ``top_k`` its recommendations; None when
    the store has no such user."""
    if top_k:
        return reader.get_top_k(user_id, k=k)
    return reader.get_user_state(user_id, with_scores=with_scores, as_of=as_of)


def parse_as_of(value: str):
    """``now``, ``event``, or a time (epoch ms or ISO-8601) as epoch ms."""
    if value in ("now", "event"):
        return value
    from recstream.backfill import parse_time

    try:
        return parse_time(value)
    except ValueError:
        fail(f"--as-of {value!r} is neither 'now', 'event', epoch milliseconds nor an ISO-8601 time")


def user(
    user_id: str,
    top_k: bool = typer.Option(False, "--top-k", help="only the user's top-K (recommendations)"),
    k: Optional[int] = typer.Option(None, "--k", min=1, help="with --top-k: at most this many items"),
    no_scores: bool = typer.Option(False, "--no-scores", help="state without the scores"),
    as_of: str = typer.Option("now", "--as-of", help="time the window counts and decayed values are for: now (the "
                              "read), event (as stored: the user's newest event), or epoch ms / ISO-8601"),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
    store: Optional[Path] = StoreOpt,
):
    """A user's latest features + sequence (+ scores), or with --top-k the recommendations (JSON).

    `recstream inspect user` and `recstream serve-read user` are this command."""
    reader, cfg = open_cli_reader(config, overrides, store)
    with reader:
        try:
            value = read_user(reader, user_id, top_k=top_k, k=k, with_scores=not no_scores, as_of=parse_as_of(as_of))
        except ValueError as exc:  # a time before the stored state's newest event
            fail(exc)
    _emit(value, f"top-K of user {user_id!r}" if top_k else f"user {user_id!r}", cfg)


serve_app.command("user")(user)
inspect_app.command("user")(user)


@serve_app.command("item")
def item(item_id: str, config: Optional[List[Path]] = ConfigOpt, overrides: Optional[List[str]] = SetOpt,
         store: Optional[Path] = StoreOpt):
    """An item's features and popularity."""
    reader, cfg = open_cli_reader(config, overrides, store)
    with reader:
        value = reader.get_item(item_id)
    _emit(value, f"item {item_id!r}", cfg)


@serve_app.command("popular")
def popular(scope: str = typer.Option("global", help="'global' or e.g. 'category:Drama'"),
            k: Optional[int] = typer.Option(None, "--k", min=1), config: Optional[List[Path]] = ConfigOpt,
            overrides: Optional[List[str]] = SetOpt, store: Optional[Path] = StoreOpt):
    """The most popular items of a scope."""
    reader, cfg = open_cli_reader(config, overrides, store)
    with reader:
        value = reader.get_popular_items(scope, k=k)
    _emit(value, f"popular items of scope {scope!r}", cfg)


@serve_app.command("models")
def models(name: str = typer.Option("interest", help="model name"), config: Optional[List[Path]] = ConfigOpt,
           overrides: Optional[List[str]] = SetOpt, store: Optional[Path] = StoreOpt):
    """Model versions that have written scores."""
    reader, cfg = open_cli_reader(config, overrides, store)
    with reader:
        print(json.dumps(reader.model_versions(name), sort_keys=True))


@inspect_app.command("dead-letters")
def inspect_dead_letters(
    run_id: Optional[str] = typer.Option(None, help="only this run"),
    limit: int = typer.Option(20, min=1),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
    store: Optional[Path] = StoreOpt,
):
    """Print dead-lettered events with their reasons."""
    reader, _ = open_cli_reader(config, overrides, store)
    with reader:
        for d in reader.dead_letters(run_id, limit):
            # reasons and raw events are user data: "[...]" in them is text, not rich markup
            console.print(f"[yellow]{escape(d['stage'])}[/yellow] {escape(d['reason'])}\n    {escape(d['raw'][:200])}")


@inspect_app.command("runs")
def inspect_runs(
    as_json: bool = typer.Option(False, "--json", help="one JSON object per run instead of a table"),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
    store: Optional[Path] = StoreOpt,
):
    """List the runs recorded in the store, oldest first, with their status: finished, failed,
    running, or interrupted (killed before its end: its rows hold what it wrote until then)."""
    from recstream.runner import runs_overview

    reader, _ = open_cli_reader(config, overrides, store)
    with reader:
        runs = runs_overview(reader.store)
    if as_json:
        for r in runs:
            print(json.dumps(r, sort_keys=True))
        return
    table = Table("run", "status", "started (UTC)", "events applied", "dead-lettered")
    colour = {"finished": "green", "failed": "red", "interrupted": "red", "running": "yellow"}
    for r in runs:
        started = (datetime.fromtimestamp(r["started_ms"] / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
                   if r["started_ms"] else "-")
        status = r["status"]
        table.add_row(escape(r["run_id"]), f"[{colour.get(status, 'white')}]{status}[/]", started,
                      str(r["events_applied"]), str(r["dead_lettered"]))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(inspect_app, name="inspect")
    app.add_typer(serve_app, name="serve-read")
