"""What the server answers, built from the reader's dicts (plain Python: no web framework here).

A user view is the stored state of one user with its time-dependent features (window counts,
decayed interest) evaluated as of the read time by default, of a requested time, or as stored
(``as_of=event``: as of the user's newest event, the stored JSON text passed through undecoded);
``as_of.windows_as_of`` says which, and ``staleness`` says how old the state and the score are.
"""
from __future__ import annotations

import orjson

from recstream.backfill import parse_time
from recstream.reader import state_as_of
from udfs.features.as_of import AsOfError

FIELDS = ("features", "sequence", "embedding", "top_k", "model", "drift", "staleness")
MAX_K = 1000


class BadInput(ValueError):
    """A request parameter is malformed (answered 400 with this message)."""


def parse_fields(value: str | None) -> tuple[str, ...]:
    if value is None or value.strip() == "":
        return FIELDS
    names = tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise BadInput(f"unknown field(s) {', '.join(unknown)}; choose from {', '.join(FIELDS)}")
    return names


def parse_time_ms(value: str | None) -> int | str:
    """``now`` (also for no value), ``event``, or epoch milliseconds / an ISO-8601 time (UTC when
    no offset is given), read as ``recstream features --as-of`` reads it."""
    if value is None or value == "" or value == "now":
        return "now"
    if value == "event":
        return "event"
    try:
        return parse_time(value)
    except ValueError:
        raise BadInput(f"as_of {value!r} is neither 'now', 'event', epoch milliseconds nor an ISO-8601 time") from None


def check_k(k: int | None, what: str = "k") -> int | None:
    if k is not None and not 1 <= k <= MAX_K:
        raise BadInput(f"{what} must be between 1 and {MAX_K}")
    return k


def check_as_of(state: dict, as_of_ms: int | str) -> None:
    """The store holds a user's newest state only: a time before it cannot be served."""
    if isinstance(as_of_ms, int) and as_of_ms < state["event_time"]:
        raise BadInput(f"as_of {as_of_ms} is before the stored state's event time {state['event_time']}: "
                       "the online store keeps each user's newest state only (use `recstream features "
                       "--as-of` for point-in-time rows)")


def user_view(state: dict, fields: tuple[str, ...], now_ms: int, as_of_ms: int | str = "now",
              k: int | None = None, n: int | None = None) -> dict:
    """``as_of_ms``: ``"now"`` (features evaluated at ``now_ms``), ``"event"`` (as stored) or epoch ms."""
    scores = state.get("scores")
    windows_as_of = state["event_time"]
    features = state["features"]
    if "features" in fields and as_of_ms != "event":
        try:
            features = state_as_of(state, as_of_ms, now_ms)["features"]
        except AsOfError as exc:
            raise BadInput(str(exc)) from None
        windows_as_of = features["windows_as_of"]
    out: dict = {"user_id": state["user_id"],
                 "as_of": {"requested": as_of_ms, "read_at": now_ms, "state_event_time": state["event_time"],
                           "windows_as_of": windows_as_of}}
    if "features" in fields:
        out["features"] = _json_part(features)
    if "sequence" in fields:
        seq = state["sequence"]
        if n:
            seq = (orjson.loads(seq) if isinstance(seq, str) else seq)[-n:]
        out["sequence"] = _json_part(seq)
    if "embedding" in fields:
        out["embedding"] = scores["embedding"] if scores else None
    if "top_k" in fields:
        out["top_k"] = None if scores is None else {
            "items": scores["items"][:k] if k else scores["items"],
            "scores": scores["scores"][:k] if k else scores["scores"], "cold_start": scores["cold_start"]}
    if "model" in fields:
        out["model_version"] = scores["model_version"] if scores else None
    if "drift" in fields:
        out["drift"] = scores["drift"] if scores else None
    if "staleness" in fields:
        out["staleness"] = staleness(state, now_ms)
    return out


def _json_part(value):
    """Stored JSON text goes out as it is (no decode and re-encode); decoded values as they are.
    Text holding NaN/Infinity literals (valid for Python's json, not for JSON) is decoded and
    re-encoded (orjson writes them as null)."""
    if not isinstance(value, str):
        return value
    if "NaN" in value or "Infinity" in value:
        import json

        return json.loads(value)
    return orjson.Fragment(value)


def staleness(state: dict, now_ms: int) -> dict:
    """How old the state and the score are: since their newest event (event time) and since the job
    wrote them (``updated_at``, wall clock of the writer)."""
    scores = state.get("scores")
    return {
        "state_event_age_ms": now_ms - state["event_time"],
        "state_written_age_ms": now_ms - state["updated_at"],
        "score_event_age_ms": None if scores is None else now_ms - scores["event_time"],
        "score_written_age_ms": None if scores is None else now_ms - scores["updated_at"],
        # > 0: the score was computed from an older state than the one served
        "score_behind_state_ms": None if scores is None else state["event_time"] - scores["event_time"],
    }


def parse_scope(scope: str) -> str:
    if scope == "global" or (scope.startswith("category:") and len(scope) > len("category:")):
        return scope
    raise BadInput(f"scope {scope!r}: use 'global' or 'category:<name>'")
