"""``recstream serve-read``: read what downstream services read, as JSON, from the configured store
(embedded SQLite by default, Cassandra with ``--set store.kind=cassandra``)."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

err = Console(stderr=True)
serve_app = typer.Typer(help="Read stored user states, top-K, items and model versions as JSON "
                             "(the reader API downstream services use).", no_args_is_help=True)

ConfigOpt = typer.Option(None, "--config", "-c", help="YAML config file (repeatable; later wins)")
SetOpt = typer.Option(None, "--set", "-s", help="override a config key, e.g. --set store.kind=cassandra")
StoreOpt = typer.Option(None, "--store", help="SQLite store path (store.sqlite.path)")


def open_cli_reader(config, overrides, store: Optional[Path]):
    """The reader on the configured store and the config; a missing or unreachable store exits 1."""
    # connection errors are reported in one line by the store; the driver's own tracebacks are noise here
    logging.getLogger("cassandra").setLevel(logging.CRITICAL)
    from recstream.cli import _config
    from recstream.reader import open_reader
    from recstream.store.base import StoreError

    cfg = _config(config, overrides, [f"store.sqlite.path={store}"] if store else [])
    try:
        return open_reader(config=cfg), cfg
    except (FileNotFoundError, StoreError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)


def _emit(value, what: str, cfg) -> None:
    if value is None:
        where = cfg.store.sqlite.path if cfg.store.kind == "sqlite" else f"keyspace {cfg.store.cassandra.keyspace}"
        err.print(f"{what} not found in the {cfg.store.kind} store ({where})")
        raise typer.Exit(1)
    print(json.dumps(value, sort_keys=True, indent=2 if sys.stdout.isatty() else None))


@serve_app.command("user")
def user(
    user_id: str,
    top_k: bool = typer.Option(False, "--top-k", help="only the user's top-K (recommendations)"),
    k: Optional[int] = typer.Option(None, "--k", min=1, help="with --top-k: at most this many items"),
    no_scores: bool = typer.Option(False, "--no-scores", help="state without the scores"),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
    store: Optional[Path] = StoreOpt,
):
    """A user's latest features + sequence (+ scores), or with --top-k the recommendations (JSON).

    `recstream inspect user` is this command."""
    reader, cfg = open_cli_reader(config, overrides, store)
    with reader:
        if top_k:
            _emit(reader.get_top_k(user_id, k=k), f"top-K of user {user_id!r}", cfg)
        else:
            _emit(reader.get_user_state(user_id, with_scores=not no_scores), f"user {user_id!r}", cfg)


@serve_app.command("item")
def item(item_id: str, config: Optional[List[Path]] = ConfigOpt, overrides: Optional[List[str]] = SetOpt,
         store: Optional[Path] = StoreOpt):
    """An item's features and popularity."""
    reader, cfg = open_cli_reader(config, overrides, store)
    with reader:
        _emit(reader.get_item(item_id), f"item {item_id!r}", cfg)


@serve_app.command("popular")
def popular(scope: str = typer.Option("global", help="'global' or e.g. 'category:Drama'"),
            k: Optional[int] = typer.Option(None, "--k", min=1), config: Optional[List[Path]] = ConfigOpt,
            overrides: Optional[List[str]] = SetOpt, store: Optional[Path] = StoreOpt):
    """The most popular items of a scope."""
    reader, cfg = open_cli_reader(config, overrides, store)
    with reader:
        _emit(reader.get_popular_items(scope, k=k), f"popular items of scope {scope!r}", cfg)


@serve_app.command("models")
def models(name: str = typer.Option("interest", help="model name"), config: Optional[List[Path]] = ConfigOpt,
           overrides: Optional[List[str]] = SetOpt, store: Optional[Path] = StoreOpt):
    """Model versions that have written scores."""
    reader, cfg = open_cli_reader(config, overrides, store)
    with reader:
        print(json.dumps(reader.model_versions(name), sort_keys=True))


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app, name="serve-read")
