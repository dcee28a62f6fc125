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

_SCHEMA = event_schema()
_validate = fastjsonschema.compile(_SCHEMA)
_PROPS = _SCHEMA["properties"]
_REQUIRED = tuple(_SCHEMA["required"])
_TYPES = frozenset(_PROPS["event_type"]["enum"])
_STR_LIMITS = {k: (v["minLength"], v["maxLength"]) for k, v in _PROPS.items() if v.get("type") == "string" and "minLength" in v}
_TIME_MAX = _PROPS["event_time"]["maximum"]
_DWELL_MAX = _PROPS["dwell_ms"]["maximum"]
_RATING_MAX = _PROPS["rating"]["maximum"]
_TAGS_MAX = _PROPS["tags"]["maxItems"]
_TAG_MIN, _TAG_MAX = _PROPS["tags"]["items"]["minLength"], _PROPS["tags"]["items"]["maxLength"]


def _fast_valid(e: dict) -> bool:
    """True only when ``e`` certainly satisfies the schema (common case, ~10x cheaper than
    the generic validator). False means "ask the full validator", which also words the reason."""
    for k in _REQUIRED:
        if k not in e:
            return False
    for k, (lo, hi) in _STR_LIMITS.items():
        if k in e:
            v = e[k]
            if type(v) is not str or not lo <= len(v) <= hi:
                return False
    if e["event_type"] not in _TYPES:
        return False
    t = e["event_time"]
    if type(t) is not int or not 0 <= t <= _TIME_MAX:
        return False
    if "dwell_ms" in e:
        d = e["dwell_ms"]
        if type(d) is not int or not 0 <= d <= _DWELL_MAX:
            return False
    if "rating" in e:
        r = e["rating"]
        if type(r) not in (int, float) or not 0 <= r <= _RATING_MAX:
            return False
    elif e["event_type"] == "rating":
        return False
    if "tags" in e:
        tags = e["tags"]
        if type(tags) is not list or len(tags) > _TAGS_MAX:
            return False
        for tag in tags:
            if type(tag) is not str or not _TAG_MIN <= len(tag) <= _TAG_MAX:
                return False
    if "context" in e and type(e["context"]) is not dict:
        return False
    return True


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
    if _fast_valid(event):
        return event
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

