"""The ``recstream`` command: one typer app assembled from the command modules of this package."""
from __future__ import annotations

import sys

import typer

from recstream.cli import bench, cassandra, cluster, data, features, help_labels, job, kafka, model, read, serve

help_labels.install()

app = typer.Typer(help="Real-time recommender features and interest-model inference on Apache Flink.",
                  no_args_is_help=True, add_completion=False)

for _module in (job, read, model, kafka, cassandra, serve, cluster, features, bench, data):
    _module.register(app)


def main() -> None:  # pragma: no cover
    sys.exit(app())
