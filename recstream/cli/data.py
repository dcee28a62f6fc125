"""``recstream data fetch-movielens``: download, check and unpack MovieLens 100K (never done by the job)."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from recstream.cli.options import err
from recstream.sources.download import ML100K_URL, DownloadError, fetch_movielens as fetch

data_app = typer.Typer(help="Public data sets the job and the model tools can read.", no_args_is_help=True)


@data_app.command("fetch-movielens")
def fetch_movielens(
    dest: Path = typer.Option(Path("recstream-data/ml-100k"), help="folder to unpack into"),
    url: str = typer.Option(ML100K_URL, help="where to get ml-100k.zip (file:///... for a copy you downloaded)"),
    force: bool = typer.Option(False, "--force", help="replace a folder that does not hold a matching copy"),
):
    """Download MovieLens 100K (GroupLens), check u.data / u.item against pinned SHA-256 sums, unpack it.

    The data set's terms (its README) forbid redistribution and commercial use without permission."""
    try:
        with err.status(f"fetching {escape(url)}"):
            path, downloaded = fetch(dest, url=url, force=force)
    except DownloadError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1)
    # plain print: a long path must stay one copyable line
    print(f"{'unpacked' if downloaded else 'already there, checked'}: {path}")
    print(f"use it: recstream run --source movielens --set source.movielens.path={path}")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
