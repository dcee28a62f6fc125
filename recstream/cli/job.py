"""``recstream run`` and ``recstream generate``: the feature job in Flink's local mini-cluster, and the
configured source written as a replay file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from recstream.cli.options import ConfigOpt, SetOpt, console, err, load_cli_config, say_ignored_files


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
    if stop_offsets:
        try:
            offsets = {int(k): int(v) for k, v in json.loads(stop_offsets.read_text()).items()}
        except (OSError, ValueError, AttributeError) as exc:
            err.print(f"[red]error:[/red] cannot read --stop-offsets {stop_offsets}: {exc}")
            raise typer.Exit(2)
        extra.append(f"kafka.stop_offsets={offsets}")
    cfg = load_cli_config(config, overrides, extra, store=store)
    from recstream.flink_env import JavaNotFoundError
    from recstream.runner import TIMING_DEPENDENT, JobFailed, prepare_input, run_kafka_local, run_local
    from recstream.store.base import StoreError

    kafka = cfg.source.kind == "kafka"
    try:
        # Kafka: a total only for a bounded read (stop offsets)
        path, total = (None, bounded_total(cfg, err)) if kafka else prepare_input(cfg, input)
        if path is not None:
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
        "model_unknown_items": summary.extra.get("unknown_items", 0),
        "model_input_items": summary.extra.get("input_items", 0),
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
    unknown, seen = data["model_unknown_items"], data["model_input_items"]
    if seen and unknown * 2 > seen:
        err.print(f"[yellow]warning:[/yellow] {unknown:,} of the {seen:,} items users interacted with are unknown "
                  f"to the model {data['model']}: its recommendations say little about this catalogue "
                  "(train one on your events: recstream train, then --set model.path=DIR)")
    for rid in summary.interrupted_runs:
        err.print(f"[yellow]warning:[/yellow] earlier run {rid} on this store was interrupted (no end recorded): "
                  "its stored rows hold what it wrote before it stopped")
    if not kafka and summary.accounted != summary.events_in:
        err.print(f"[red]events in ({summary.events_in}) != applied + dead-lettered ({summary.accounted})[/red]")
        raise typer.Exit(3)
    if summary.job_status != "FINISHED":
        raise typer.Exit(1)


def bounded_total(cfg, console: Console) -> int | None:
    """Records the configured Kafka read will see: None when it is unbounded or the broker cannot say
    (the run goes on without a total; the job reports its own connection errors)."""
    from confluent_kafka import KafkaException

    from recstream.kafka.offsets import bounded_record_count

    try:
        return bounded_record_count(cfg.kafka)
    except KafkaException as exc:
        console.print(f"[yellow]warning:[/yellow] cannot count the records before kafka.stop_offsets: {exc}")
        return None


def generate(
    out: Path = typer.Argument(..., help="output file (one raw JSON event per line)"),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
):
    """Write the configured source (synthetic or MovieLens) as a replay file."""
    cfg = load_cli_config(config, overrides)
    from recstream.replay import write_replay_file

    n = write_replay_file(cfg, out)
    console.print(f"wrote {n} events to {out}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("generate")(generate)
