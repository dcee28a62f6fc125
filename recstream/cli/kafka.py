"""``recstream topics | produce | kafka jars | kafka broker``: Kafka tooling (confluent-kafka) for the job."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from recstream.cli.options import ConfigOpt, console, err, fail, load_cli_config, set_option

kafka_app = typer.Typer(help="Kafka connector jars and a local test broker.", no_args_is_help=True)
topics_app = typer.Typer(help="Create and list the job's Kafka topics.", no_args_is_help=True)

SetOpt = set_option("kafka.bootstrap_servers=h:9092")
BootstrapOpt = typer.Option(None, "--bootstrap", "-b", help="bootstrap servers (default: kafka.bootstrap_servers)")


def _cfg(config, overrides, bootstrap):
    return load_cli_config(config, overrides, [f"kafka.bootstrap_servers={bootstrap}"] if bootstrap else [])


@topics_app.command("create")
def topics_create(
    partitions: Optional[int] = typer.Option(None, "--partitions", "-p", help="default: kafka.partitions"),
    replication: int = typer.Option(1, help="replication factor"),
    bootstrap: Optional[str] = BootstrapOpt,
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
):
    """Create the events, dead-letter and late-event topics (existing ones are left alone)."""
    cfg = _cfg(config, overrides, bootstrap)
    from recstream.kafka.topics import create_topics

    t = cfg.kafka.topics
    try:
        outcome = create_topics(cfg.kafka, [t.events, t.dead_letters, t.late],
                                partitions or cfg.kafka.partitions, replication)
    except Exception as exc:
        fail(exc)
    for name, what in outcome.items():
        console.print(f"{name}: {what}")


@topics_app.command("list")
def topics_list(bootstrap: Optional[str] = BootstrapOpt, config: Optional[List[Path]] = ConfigOpt,
                overrides: Optional[List[str]] = SetOpt):
    """List topics and their partition counts."""
    cfg = _cfg(config, overrides, bootstrap)
    from recstream.kafka.topics import describe

    try:
        topics = describe(cfg.kafka)
    except Exception as exc:
        fail(exc)
    table = Table("topic", "partitions")
    for name, n in topics.items():
        table.add_row(name, str(n))
    console.print(table)


def produce(
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="replay file (default: the configured source)"),
    rate: Optional[float] = typer.Option(None, help="events per second (default: as fast as possible)"),
    topic: Optional[str] = typer.Option(None, help="default: kafka.topics.events"),
    offsets_out: Optional[Path] = typer.Option(
        None, help="write the end offset of each partition (JSON) for a bounded read: kafka.stop_offsets"),
    bootstrap: Optional[str] = BootstrapOpt,
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
):
    """Replay events (synthetic, MovieLens or a file) into the events topic, keyed by user id."""
    cfg = _cfg(config, overrides, bootstrap)
    from recstream.kafka.produce import produce_lines
    from recstream.replay import source_lines

    try:
        lines = _read_lines(input) if input else list(source_lines(cfg))
    except (FileNotFoundError, ValueError) as exc:
        fail(exc)
    target = topic or cfg.kafka.topics.events
    with Progress(TextColumn(f"[bold]→ {target}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err) as progress:
        task = progress.add_task("produce", total=len(lines))
        try:
            result = produce_lines(cfg.kafka, target, lines, rate=rate,
                                   on_progress=lambda n: progress.update(task, completed=n))
        except Exception as exc:
            fail(exc)
    console.print(f"produced {result.sent} events to {target} in {result.seconds:.1f} s "
                  f"({result.rate:,.0f}/s); end offsets {dict(sorted(result.end_offsets.items()))}")
    if offsets_out:
        offsets_out.write_text(json.dumps({str(k): v for k, v in sorted(result.end_offsets.items())}))
    if result.failed:
        err.print(f"[red]{result.failed} events were not delivered:[/red] {'; '.join(result.errors)}")
        raise typer.Exit(1)


def _read_lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


@kafka_app.command("jars")
def kafka_jars(
    dest: Optional[Path] = typer.Option(None, help="folder for the jars (default: kafka.jars_dir)"),
    source: str = typer.Option("pypi", "--from", help="pypi (wheel shigawire-apache-flink-libraries) | maven"),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = SetOpt,
):
    """Fetch flink-connector-kafka and kafka-clients jars (SHA-256 checked for the PyPI copies)."""
    cfg = _cfg(config, overrides, None)
    from recstream.kafka.jars import fetch_from_maven, fetch_from_pypi

    target = dest or cfg.kafka.jars_dir
    if source not in ("pypi", "maven"):
        fail(ValueError("--from must be pypi or maven"))
    try:
        paths = fetch_from_pypi(target) if source == "pypi" else fetch_from_maven(target)
    except Exception as exc:
        fail(exc)
    for p in paths:
        console.print(f"{p} ({p.stat().st_size:,} bytes)")


@kafka_app.command("broker")
def kafka_broker(port: int = typer.Option(9092, help="loopback port")):
    """Run a local Kafka-protocol broker (tansu, in memory) until Ctrl-C or SIGTERM: for demos and tests,
    not production."""
    from recstream.kafka.broker import BrokerError, TansuBroker

    # a supervisor stops with SIGTERM (a closed terminal: SIGHUP): stop tansu the same way as on Ctrl-C
    # (Python's default for SIGTERM ends the process without running the finally below)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    broker = TansuBroker(port=port)
    try:
        broker.start()
        console.print(f"tansu listening on {broker.bootstrap} (in memory; Ctrl-C stops it and loses every topic)")
        while broker.proc.poll() is None:
            time.sleep(0.5)
        raise BrokerError(f"tansu exited by itself with code {broker.proc.returncode}")
    except BrokerError as exc:
        fail(exc)
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()


def _interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def register(app: typer.Typer) -> None:
    app.add_typer(topics_app, name="topics")
    app.add_typer(kafka_app, name="kafka")
    app.command("produce")(produce)
