"""``recstream train | evaluate | export | demo-model``: the interest model's commands from
:mod:`model_export.cli` (torch is imported only when they run)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from model_export import cli as model_cli

    app.command("train")(model_cli.train)
    app.command("evaluate")(model_cli.evaluate)
    app.command("export")(model_cli.export)
    app.command("demo-model")(model_cli.demo)
