"""``recstream serve``: the HTTP feature and score server (FastAPI on uvicorn) over the configured
store (docs/serving.md)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional

import typer

from recstream.cli.options import ConfigOpt, StoreOpt, err, load_cli_config, quiet_cassandra_driver, set_option


def serve(
    host: str = typer.Option("127.0.0.1", help="bind address (0.0.0.0 in a container)"),
    port: int = typer.Option(8080, help="port"),
    max_batch: int = typer.Option(1000, "--max-batch", help="most users one POST /users:batchGet may ask for"),
    timeout: float = typer.Option(2.0, "--timeout", help="seconds a store read may take before 504"),
    store_threads: int = typer.Option(4, "--store-threads", help="threads running the store reads"),
    api_key_env: str = typer.Option("RECSTREAM_API_KEY", "--api-key-env",
                                    help="env variable with the API key (auth is on when it is set)"),
    api_key_file: Optional[Path] = typer.Option(None, "--api-key-file", help="file with the API key"),
    tls_cert: Optional[Path] = typer.Option(None, "--tls-cert", help="PEM certificate (HTTPS)"),
    tls_key: Optional[Path] = typer.Option(None, "--tls-key", help="PEM private key (HTTPS)"),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn and server log level (no access log)"),
    config: Optional[List[Path]] = ConfigOpt,
    overrides: Optional[List[str]] = set_option("store.kind=cassandra"),
    store: Optional[Path] = StoreOpt,
):
    """HTTP server: GET /users/{id}, POST /users:batchGet, /items/{id}, /popular, /healthz, /metrics,
    /docs and the page /ui/users/{id}."""
    try:
        import uvicorn

        from recstream.serving.app import create_app
    except ImportError as exc:
        err.print(f"[red]error:[/red] {exc.name} is missing: pip install 'recstream[serve]'")
        raise typer.Exit(2)
    from pydantic import ValidationError

    from recstream.serving.settings import ApiKeyError, ServeSettings
    from udfs.privacy import PrivacyKeyError

    quiet_cassandra_driver()
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = load_cli_config(config, overrides, store=store)
    try:
        settings = ServeSettings(host=host, port=port, max_batch=max_batch, request_timeout_s=timeout,
                                 store_threads=store_threads, api_key_env=api_key_env, api_key_file=api_key_file,
                                 tls_certfile=tls_cert, tls_keyfile=tls_key)
        app = create_app(cfg, settings)
    except (ValidationError, ApiKeyError, PrivacyKeyError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    # no access log: request paths carry raw user ids
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, access_log=False,
                ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None,
                timeout_keep_alive=30)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
