"""The ``recstream`` command line."""
from __future__ import annotations

import json
from datetime import datetime, timezone
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from recstream import cli_bench, cli_cassandra, cli_cluster, cli_data, cli_features, cli_help, cli_http, cli_kafka, cli_serve
from recstream.config import ConfigError, load_config

cli_help.install()

app = typer.Typer(help="Real-time recommender features and interest-model inference on Apache Flink.",
                  no_args_is_help=True, add_completion=False)
inspect_app = typer.Typer(help="Read what the job stored.", no_args_is_help=True)
app.add_typer(inspect_app, name="inspect")
console = Console()
err = Console(stderr=True)

ConfigOpt = typer.Option(None, "--config", "-c", help="YAML config file (repeatable; later wins)")
SetOpt = typer.Option(None, "--set", "-s", help="override a config key, e.g. --set job.parallelism=2")


def _config(config: Optional[List[Path]], overrides: Optional[List[str]], extra: list[str] = ()):
    try:
        return load_config(config or [], list(overrides or []) + list(extra))
    except ConfigError as exc:
        err.print(f"[red]config error:[/red] {exc}")
        raise typer.Exit(2)


@app.command()
def run(
    source: Optional[str] = typer.Option(None, help="synthetic | movielens | file | kafka (default: config, synthetic)"),
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="replay file of raw JSON events, one per line"),
    stop_offsets: Optional[Path] = typer.Option(
        None, help="kafka: stop at these end offsets (JSON written by `recstream produce --offsets-out`)"),
    events: Optional[int] = typer.Option(None, help="synthetic: number of events to generate"),
    store: Optional[Path] = typer.Option(None, help="SQLite store path"),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
    json_out: bool = typer.Option(False, "--json", help="print the summary as JSON"),
):
    """Run the feature job in Flink's local mini-cluster and print a summary."""
    extra = []
    if source:
        extra.append(f"source.kind={source}")
    if events:
        extra.append(f"source.synthetic.events={events}")
    if store:
        extra.append(f"store.sqlite.path={store}")
    if stop_offsets:
        try:
            offsets = {int(k): int(v) for k, v in json.loads(stop_offsets.read_text()).items()}
        except (OSError, ValueError, AttributeError) as exc:
            err.print(f"[red]error:[/red] cannot read --stop-offsets {stop_offsets}: {exc}")
            raise typer.Exit(2)
        extra.append(f"kafka.stop_offsets={offsets}")
    cfg = _config(config, overrides, extra)
    from recstream.flink_env import JavaNotFoundError
    from recstream.runner import TIMING_DEPENDENT, JobFailed, prepare_input, run_kafka_local, run_local
    from recstream.store.base import StoreError

    kafka = cfg.source.kind == "kafka"
    try:
        # Kafka: a total only for a bounded read (stop offsets)
        path, total = (None, cli_kafka.bounded_total(cfg, err)) if kafka else prepare_input(cfg, input)
        if path is not None:
            from recstream.cli_features import say_ignored_files

            say_ignored_files(path)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} events"),
                      TimeElapsedColumn(), console=err, transient=json_out) as progress:
            task = progress.add_task("starting Flink", total=total)

            def on_progress(p):
                done = p.get("events_applied", 0) + p.get("dead_parse", 0) + p.get("dead_late", 0)
                progress.update(task, completed=done, description="processing" if done else "starting Flink")

            if kafka:
                summary = run_kafka_local(cfg, on_progress=on_progress, events_in=total or 0)
            else:
                summary = run_local(cfg, on_progress=on_progress, prepared=(path, total))
    except (JavaNotFoundError, FileNotFoundError, ValueError, JobFailed, StoreError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    data = {
        "run_id": summary.run_id, "status": summary.job_status, "input": str(summary.input_path),
        "events_in": summary.events_in, "events_applied": summary.events_applied,
        "dead_lettered": summary.dead_lettered, "dead_parse": summary.dead_parse, "dead_late": summary.dead_late,
        "users_updated": summary.users_updated, "feature_rows": summary.feature_rows,
        "scored_rows": summary.extra.get("scored_rows", 0), "cold_start_rows": summary.extra.get("cold_start_rows", 0),
        "model": str(cfg.model.path) if cfg.model.active() else "off",
        "wall_s": round(summary.wall_s, 2), "job_net_runtime_s": summary.job_net_runtime_s,
        "store": str(cfg.store.sqlite.path),
        "timing_dependent": list(TIMING_DEPENDENT), "interrupted_runs": summary.interrupted_runs,
    }
    if summary.extra.get("users_updated_estimated"):
        data["users_updated_estimated"] = True
    if json_out:
        print(json.dumps(data))
    else:
        caption = "* one row per user per micro-batch: varies with arrival timing; the other counts are exact"
        if data.get("users_updated_estimated"):
            caption += "; users_updated: an estimate (0.8 % std. error)"
        table = Table(title=f"recstream run {summary.run_id}", show_header=False, caption=caption)
        for k, v in data.items():
            if k not in ("timing_dependent", "interrupted_runs"):
                table.add_row(k + ("*" if k in TIMING_DEPENDENT else ""), str(v))
        console.print(table)
    for rid in summary.interrupted_runs:
        err.print(f"[yellow]warning:[/yellow] earlier run {rid} on this store was interrupted (no end recorded): "
                  "its stored rows hold what it wrote before it stopped")
    if not kafka and summary.accounted != summary.events_in:
        err.print(f"[red]events in ({summary.events_in}) != applied + dead-lettered ({summary.accounted})[/red]")
        raise typer.Exit(3)
    if summary.job_status != "FINISHED":
        raise typer.Exit(1)


@app.command()
def generate(
    out: Path = typer.Argument(..., help="output file (one raw JSON event per line)"),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
):
    """Write the configured source (synthetic or MovieLens) as a replay file."""
    cfg = _config(config, overrides)
    from recstream.replay import write_replay_file

    n = write_replay_file(cfg, out)
    console.print(f"wrote {n} events to {out}")


# one read path: `inspect user` is `serve-read user` under the name the README's first steps use
inspect_app.command("user")(cli_serve.user)


@inspect_app.command("dead-letters")
def inspect_dead_letters(
    run_id: Optional[str] = typer.Option(None, help="only this run"),
    limit: int = typer.Option(20, min=1),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
    store: Optional[Path] = cli_serve.StoreOpt,
):
    """Print dead-lettered events with their reasons."""
    reader, _ = cli_serve.open_cli_reader(config, overrides, store)
    with reader:
        for d in reader.dead_letters(run_id, limit):
            # reasons and raw events are user data: "[...]" in them is text, not rich markup
            console.print(f"[yellow]{escape(d['stage'])}[/yellow] {escape(d['reason'])}\n    {escape(d['raw'][:200])}")


@inspect_app.command("runs")
def inspect_runs(
    as_json: bool = typer.Option(False, "--json", help="one JSON object per run instead of a table"),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
    store: Optional[Path] = cli_serve.StoreOpt,
):
    """List the runs recorded in the store, oldest first, with their status: finished, failed,
    running, or interrupted (killed before its end: its rows hold what it wrote until then)."""
    from recstream.runner import runs_overview

    reader, _ = cli_serve.open_cli_reader(config, overrides, store)
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


def _register_model_commands() -> None:
    """train / evaluate / export / demo-model from model_export (torch is imported only when they run)."""
    from model_export import cli as model_cli

    app.command("train")(model_cli.train)
    app.command("evaluate")(model_cli.evaluate)
    app.command("export")(model_cli.export)
    app.command("demo-model")(model_cli.demo)


_register_model_commands()
cli_kafka.register(app)
cli_cassandra.register(app)
cli_serve.register(app)
cli_http.register(app)
cli_cluster.register(app)
cli_features.register(app)
cli_bench.register(app)
cli_data.register(app)


def main() -> None:  # pragma: no cover
    sys.exit(app())
