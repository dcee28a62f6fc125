"""Feature commands: ``recstream backfill``, ``recstream features --as-of``, ``recstream catalogue
embed`` and ``recstream delete-user``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from recstream.cli.options import ConfigOpt, StoreOpt, err, fail, load_cli_config, say_ignored_files, set_option

catalogue_app = typer.Typer(help="Item catalogue: text embeddings for the content features.", no_args_is_help=True)

SetOpt = set_option("features.anomaly.enabled=false")


def backfill_cmd(
    input: Path = typer.Option(..., "--input", "-i", help="event file (one raw JSON event per line) or a directory of *.jsonl"),
    run_id: Optional[str] = typer.Option(None, help="run id for dead letters and run stats (default: backfill-<time>)"),
    population_out: Optional[Path] = typer.Option(
        None, help="also write the anomaly population baseline learned from these events "
                   "(use it as features.anomaly.population_file)"),
    config: Optional[List[Path]] = ConfigOpt, overrides: Optional[List[str]] = SetOpt, store: Optional[Path] = StoreOpt,
):
    """Run the job's feature code over a historical file in batch and write the same store rows."""
    cfg = load_cli_config(config, overrides, store=store)
    from recstream.backfill import backfill
    from recstream.store.base import StoreError
    from udfs.privacy import PrivacyKeyError

    if not input.exists():
        fail(FileNotFoundError(f"input {input} not found"))
    try:
        say_ignored_files(input)
        s = backfill(cfg, input, run_id=run_id, population_out=population_out, on_progress=lambda m: err.print(m))
    except (OSError, ValueError, StoreError, PrivacyKeyError) as exc:
        fail(exc)
    print(json.dumps({
        "run_id": s.run_id, "input": str(s.input_path), "events_in": s.events_in, "events_applied": s.events_applied,
        "dead_parse": s.dead_parse, "dead_late": s.dead_late, "users": s.users, "items": s.items,
        "popular_lists": s.popular_lists, "excluded_from_items": s.excluded_from_items,
        "population_file": str(s.population_file) if s.population_file else None, "wall_s": round(s.wall_s, 2),
    }))
    if s.events_applied + s.dead_parse + s.dead_late != s.events_in:
        err.print("[red]events in != applied + dead-lettered[/red]")
        raise typer.Exit(3)


def features_cmd(
    as_of: List[str] = typer.Option(..., "--as-of", help="time T (epoch ms or ISO-8601); repeatable"),
    input: Path = typer.Option(..., "--input", "-i", help="event file or directory of *.jsonl"),
    out: Path = typer.Option(..., "--out", "-o", help="JSON lines: one row per (T, user)"),
    config: Optional[List[Path]] = ConfigOpt, overrides: Optional[List[str]] = SetOpt,
):
    """Point-in-time-correct per-user training rows: features from events with event_time <= T."""
    cfg = load_cli_config(config, overrides)
    from recstream.backfill import export_as_of, parse_time
    from udfs.privacy import PrivacyKeyError

    try:
        times = [parse_time(t) for t in as_of]
        result = export_as_of(cfg, input, times, out)
    except (OSError, ValueError, PrivacyKeyError) as exc:
        fail(exc)
    print(json.dumps({**result, "rows_per_as_of": {str(k): v for k, v in result["rows_per_as_of"].items()}}))


@catalogue_app.command("embed")
def catalogue_embed(
    input: Path = typer.Option(..., "--input", "-i", help="catalogue JSON lines: item_id, title, description, category, tags"),
    out: Path = typer.Option(..., "--out", "-o", help="directory for embeddings.npy + item_ids.json + embeddings.json"),
    encoder: Optional[Path] = typer.Option(None, help="text encoder export (default: features.content.encoder_path)"),
    config: Optional[List[Path]] = ConfigOpt, overrides: Optional[List[str]] = SetOpt,
):
    """Embed a catalogue with the ONNX text encoder (onnxruntime, no torch) into an embeddings file."""
    cfg = load_cli_config(config, overrides)
    from recstream.catalogue import CatalogueError, embed_catalogue_file

    enc = encoder or cfg.features.content.encoder_path
    if enc is None:
        fail(ValueError("no text encoder: pass --encoder DIR or set features.content.encoder_path "
                         "(export one with `python -m model_export.text_encoder DIR`)"))
    try:
        card = embed_catalogue_file(input, out, enc, variant=cfg.features.content.variant,
                                    batch_size=cfg.features.content.batch_size)
    except (OSError, ValueError, CatalogueError) as exc:
        fail(exc)
    print(json.dumps({"out": str(out), **card}))


@catalogue_app.command("movielens")
def catalogue_movielens(
    out: Path = typer.Option(..., "--out", "-o", help="catalogue JSON lines to write"),
    ml_path: Path = typer.Option(Path("../shared/data/ml-100k"), "--ml-path", help="ML-100K directory (u.item)"),
):
    """Write the ML-100K movies (title, genres as category + tags) as a catalogue file."""
    from recstream.catalogue import movielens_catalogue

    try:
        n = movielens_catalogue(ml_path, out)
    except (OSError, ValueError) as exc:
        fail(exc)
    print(json.dumps({"out": str(out), "items": n}))


def delete_user_cmd(
    user_id: str = typer.Argument(..., help="the user's id (pseudonymised here when privacy.pseudonymize is on)"),
    stored_key: bool = typer.Option(False, "--stored-key", help="USER_ID is already the stored key (a pseudonym)"),
    config: Optional[List[Path]] = ConfigOpt, overrides: Optional[List[str]] = SetOpt, store: Optional[Path] = StoreOpt,
):
    """Delete a user's stored features, sequence, scores and dead letters (docs/features.md)."""
    cfg = load_cli_config(config, overrides, store=store)
    from recstream.store import open_store
    from recstream.store.base import StoreError
    from udfs.privacy import PrivacyKeyError, Pseudonymizer

    try:
        ps = None if stored_key else Pseudonymizer.from_config(cfg.privacy)
        key = ps(user_id) if ps is not None else user_id
        with open_store(cfg.store) as st:
            deleted = st.delete_user(key)
    except (OSError, StoreError, PrivacyKeyError) as exc:
        fail(exc)
    print(json.dumps({"stored_key": key, "deleted": deleted}))
    err.print(f"Flink keyed state of this user expires {cfg.job.state_ttl_days:g} days after its last event "
              "(job.state_ttl_days); Kafka topics keep raw events for their retention period.")


def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill_cmd)
    app.command("features")(features_cmd)
    app.command("delete-user")(delete_user_cmd)
    app.add_typer(catalogue_app, name="catalogue")
