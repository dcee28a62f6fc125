"""What every ``recstream`` command shares: the ``--config`` / ``--set`` / ``--store`` options, loading
the configuration from them, the consoles, and the one-line error exit.

Command modules import from here and never from each other or from :mod:`recstream.cli.app`.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List, NoReturn, Optional

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)

ConfigOpt = typer.Option(None, "--config", "-c", help="YAML config file (repeatable; later wins)")
StoreOpt = typer.Option(None, "--store", help="SQLite store path (store.sqlite.path)")


def set_option(example: str = "job.parallelism=2"):
    """The repeatable ``--set KEY=VALUE`` option; ``example`` is shown in the help."""
    return typer.Option(None, "--set", "-s", help=f"override a config key, e.g. --set {example}")


SetOpt = set_option()


def load_cli_config(config: Optional[List[Path]], overrides: Optional[List[str]], extra=(), store: Optional[Path] = None):
    """The layered config (defaults < ``--config`` files < ``--set`` < ``extra``, then ``--store``); an
    invalid one exits 2 naming the offending key."""
    from recstream.config import ConfigError, load_config

    more = list(extra) + ([f"store.sqlite.path={store}"] if store else [])
    try:
        return load_config(config or [], list(overrides or []) + more)
    except ConfigError as exc:
        err.print(f"[red]config error:[/red] {exc}")
        raise typer.Exit(2)


def quiet_cassandra_driver() -> None:
    """Connection errors are reported in one line by the store; the driver's own tracebacks are noise here."""
    logging.getLogger("cassandra").setLevel(logging.CRITICAL)


def fail(exc: Exception | str, code: int = 1) -> NoReturn:
    """Print ``error: ...`` on stderr and exit ``code``."""
    err.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code)


def say_ignored_files(input: Path) -> None:
    """Name the files of an input directory that are not read (only ``*.jsonl`` are): ``run`` and ``backfill``."""
    from recstream.replay import ignored_files

    skipped = ignored_files(input)
    if skipped:
        names = ", ".join(f.name for f in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        err.print(f"ignoring {len(skipped)} file(s) in {input} that are not *.jsonl (or start with . or _): {names}")
