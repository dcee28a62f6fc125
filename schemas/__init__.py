"""Schemas shipped with recstream: the interaction-event JSON Schema and the store DDL.

The files live next to this module so that they are importable resources in an
installed wheel as well as in a source checkout.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def event_schema() -> dict:
    """The interaction-event JSON Schema (draft-07) as a dict."""
    return json.loads(resources.files(__name__).joinpath("event.schema.json").read_text())


def event_types() -> tuple[str, ...]:
    """Event types the schema accepts, in their canonical order (used as array indices)."""
    return tuple(event_schema()["properties"]["event_type"]["enum"])


def read_text(name: str) -> str:
    """Text of a schema file shipped in this package (e.g. ``store_sqlite.sql``)."""
    return resources.files(__name__).joinpath(name).read_text()
