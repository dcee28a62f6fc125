"""Parse and validate raw interaction events against ``schemas/event.schema.json``.

A raw payload (str or bytes) either becomes a normalised event dict or a reason
string that says what was wrong; the caller routes the latter to the dead-letter
output together with the raw payload. Nothing here raises on bad input.
"""
from __future__ import annotations

import json
from typing import Any

import fastjsonschema

from schemas import event_schema

MAX_RAW_BYTES = 64 * 1024

_validate = fastjsonschema.compile(event_schema())


class Invalid(Exception):
    """Raised internally for an invalid event; carries the dead-letter reason."""


def parse_event(raw: str | bytes) -> dict[str, Any]:
    """Return the validated event dict for ``raw`` or raise :class:`Invalid` with a reason."""
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) > MAX_RAW_BYTES:
            raise Invalid(f"payload too large: {len(raw)} bytes > {MAX_RAW_BYTES}")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    elif len(raw) > MAX_RAW_BYTES:
        raise Invalid(f"payload too large: {len(raw)} chars > {MAX_RAW_BYTES}")
    if not raw.strip():
        raise Invalid("empty payload")
    try:
        event = json.loads(raw)
    except ValueError as exc:
        raise Invalid(f"malformed JSON: {exc}") from None
    if not isinstance(event, dict):
        raise Invalid(f"event must be a JSON object, got {type(event).__name__}")
    if isinstance(event.get("event_time"), bool) or isinstance(event.get("dwell_ms"), bool):
        raise Invalid("schema: event_time/dwell_ms must be integers, not booleans")
    try:
        _validate(event)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise Invalid(f"schema: {exc.message}") from None
    return event


def try_parse_event(raw: str | bytes) -> tuple[dict[str, Any] | None, str | None]:
    """``(event, None)`` for a valid payload, ``(None, reason)`` otherwise."""
    try:
        return parse_event(raw), None
    except Invalid as exc:
        return None, str(exc)
    except Exception as exc:  # a validator bug must not kill the job: dead-letter it
        return None, f"validator error: {type(exc).__name__}: {exc}"


def compact(event: dict[str, Any]) -> str:
    """Single-line JSON for an event (safe to join with newlines)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)
