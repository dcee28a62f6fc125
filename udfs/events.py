"""Parse and validate raw interaction events against ``schemas/event.schema.json``.

A raw payload (str or bytes) either becomes a normalised event dict or a reason
string that says what was wrong; the caller routes the latter to the dead-letter
output together with the raw payload. Nothing here raises on bad input.

Beyond the schema, a payload is rejected when the job's two readers of it could
disagree: the stream routes each event by the user id that Flink SQL's Java JSON
parser reads (``JSON_VALUE``), while this module (the stream's fold and the batch
backfill alike) reads it with Python's ``json``. The input rules and the reason for
each are in docs/events.md; every reject names its rule in the reason.
"""
from __future__ import annotations

import json
import re
from typing import Any

import fastjsonschema

from schemas import event_schema

MAX_RAW_BYTES = 64 * 1024
MAX_DEPTH = 32  # nested objects/arrays; Python's and Java's parsers give up at different depths near 1000
MAX_NUMBER_CHARS = 100  # characters of one number literal; Java's parser refuses those over 1000
REPLACEMENT = "\ufffd"  # what Flink's text reader puts in place of bytes that are not UTF-8
_SAFE_BRACKETS = 500  # JSON text with at most this many brackets parses within Python's recursion limit
_TOO_DEEP = f"nested too deep: more than {MAX_DEPTH} levels of objects/arrays"

_SCHEMA = event_schema()
_validate = fastjsonschema.compile(_SCHEMA)
_PROPS = _SCHEMA["properties"]
_REQUIRED = tuple(_SCHEMA["required"])
_TYPES = frozenset(_PROPS["event_type"]["enum"])
_STR_LIMITS = {k: (v["minLength"], v["maxLength"]) for k, v in _PROPS.items() if v.get("type") == "string" and "minLength" in v}
_INT_FIELDS = tuple(k for k, v in _PROPS.items() if v.get("type") == "integer")
_TIME_MAX = _PROPS["event_time"]["maximum"]
_DWELL_MAX = _PROPS["dwell_ms"]["maximum"]
_RATING_MAX = _PROPS["rating"]["maximum"]
_TAGS_MAX = _PROPS["tags"]["maxItems"]
_TAG_MIN, _TAG_MAX = _PROPS["tags"]["items"]["minLength"], _PROPS["tags"]["items"]["maxLength"]
_SURROGATE = re.compile("[\ud800-\udfff]")


class Invalid(Exception):
    """Raised internally for an invalid event; carries the dead-letter reason."""


def _object(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise Invalid(f"duplicate key {k[:64]!r}: which of its values counts is ambiguous")
            seen.add(k)
    return obj


def _constant(name: str):
    raise Invalid(f"non-finite number {name}: not valid JSON")


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise Invalid(f"number too long: {len(text)} characters > {MAX_NUMBER_CHARS}")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise Invalid(f"number too long: {len(text)} characters > {MAX_NUMBER_CHARS}")
    value = float(text)
    if value - value != 0:  # inf (a literal beyond the double range such as 1e400)
        raise Invalid(f"number out of range: {text} is not a finite double")
    return value


_decode = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant, parse_int=_int,
                           parse_float=_float).decode


def _depth(value) -> int:
    """Deepest nesting of objects/arrays in a parsed value (iterative: no recursion limit)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        children = v.values() if type(v) is dict else v if type(v) is list else None
        if children is not None:
            deepest = max(deepest, d)
            todo.extend((c, d + 1) for c in children)
    return deepest


def _text_depth(raw: str) -> int:
    """Deepest nesting of objects/arrays in JSON text, brackets inside strings not counted
    (a plain character loop: linear on any input, used only for payloads full of brackets)."""
    depth = deepest = 0
    in_str = esc = False
    for ch in raw:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "[" or ch == "{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch == "]" or ch == "}":
            depth -= 1
    return deepest


def _has_surrogate(value) -> bool:
    if type(value) is str:
        return _SURROGATE.search(value) is not None
    if type(value) is dict:
        return any(_SURROGATE.search(k) or _has_surrogate(v) for k, v in value.items())
    if type(value) is list:
        return any(_has_surrogate(v) for v in value)
    return False


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


def parse_event(raw: str | bytes) -> dict[str, Any]:
    """Return the validated event dict for ``raw`` or raise :class:`Invalid` with a reason."""
    if isinstance(raw, (bytes, bytearray)):
        size = len(raw)
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(f"invalid UTF-8: {exc.reason} at byte {exc.start}") from None
    else:
        try:
            size = len(raw.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise Invalid(f"lone surrogate U+{ord(raw[exc.start]):04X} at char {exc.start}: "
                          "not encodable as UTF-8") from None
    if size > MAX_RAW_BYTES:
        raise Invalid(f"payload too large: {size} bytes > {MAX_RAW_BYTES}")
    if REPLACEMENT in raw:
        raise Invalid("invalid UTF-8 or U+FFFD in payload (the stream's reader turns undecodable bytes into U+FFFD)")
    if not raw.strip():
        raise Invalid("empty payload")
    if raw[0] == "\ufeff":
        raise Invalid("byte-order mark (U+FEFF) before the JSON: save the file as UTF-8 without BOM")
    brackets = raw.count("{") + raw.count("[")
    # where Python's parser runs out of stack depends on the caller; past _SAFE_BRACKETS the depth
    # is measured on the text first, so the verdict and its reason never depend on the caller
    if brackets > _SAFE_BRACKETS and _text_depth(raw) > MAX_DEPTH:
        raise Invalid(_TOO_DEEP)
    try:
        event = _decode(raw)
    except ValueError as exc:
        raise Invalid(f"malformed JSON: {exc}") from None
    except RecursionError:  # nesting past MAX_DEPTH under a caller that is itself deep in the stack
        raise Invalid(_TOO_DEEP) from None
    if brackets > MAX_DEPTH and _depth(event) > MAX_DEPTH:
        raise Invalid(_TOO_DEEP)
    if type(event) is not dict:
        raise Invalid(f"event must be a JSON object, got {type(event).__name__}")
    if "\\u" in raw and _has_surrogate(event):
        raise Invalid("lone surrogate escape (\\ud800-\\udfff without its pair): not encodable as UTF-8")
    if _fast_valid(event):
        return event
    for k in _INT_FIELDS:  # integer in value, float in form (1767225820593.0, 1.5e3): an integer
        v = event.get(k)
        if type(v) is float and v.is_integer():
            event[k] = int(v)
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
