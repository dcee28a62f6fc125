"""The ``recstream`` command line (entry point ``recstream.cli:app``).

One module per command group; :mod:`recstream.cli.options` holds what they share (``--config``,
``--set``, ``--store``, config loading, error exits) and :mod:`recstream.cli.app` assembles them.
"""
from recstream.cli.app import app, main

__all__ = ["app", "main"]
