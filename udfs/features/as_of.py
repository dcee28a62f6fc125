"""Feature rows read as of a time later than their newest event: the read-time view.

A stored feature row holds every feature as of the user's newest event time ``E``
(``last_event_time``): the job writes a row when events arrive, not when time passes. Window
counts and decayed values change with time alone, so a row read at ``T > E`` is stale in those
fields: a user idle for two hours still shows their last burst "in the last 5 minutes". The
row carries ``tiles``, the intermediate values those fields are evaluated from, and
:func:`features_as_of` evaluates them at any ``T >= E``:

* window counts: ``tiles.windows.<label> = {"window_ms", "bucket_ms", "buckets": [[i, c_0, ...,
  c_7], ...]}``, the window's non-empty time buckets (bucket ``i`` covers ``[i·bucket_ms,
  (i+1)·bucket_ms)``), counts per event type in ``schemas.event_types()`` order. The count as of
  ``T`` sums the buckets with ``i > T // bucket_ms − window_ms / bucket_ms``: exactly the stored
  ``window_counts`` at ``T = E``;
* decayed values: every interest value (short and long), ``content_weight`` decay by one
  common factor ``2^(−(T−E)/half_life)`` (half-lives in ``tiles.half_life_ms``). A common
  factor changes no ranking and no ratio, so the stored top lists, ``short_long_drift`` and the
  category shares stay as they are.

Everything else in the row (totals, sessions, anomaly signals, user×item interactions, the
sequence) describes the events themselves and is returned as stored. The function is plain
Python over the decoded JSON, so a service in another language can do the same from the
documented row format (``schemas/feature_row.md``).
"""
from __future__ import annotations

from schemas import event_types

EVENT_TYPES = event_types()


class AsOfError(ValueError):
    """A read-time evaluation that cannot be done (a time before the row's newest event)."""


def window_tiles(window_ms: int, bucket_ms: int, buckets: dict) -> dict:
    """The ``tiles.windows.<label>`` entry of a window kept as ``{bucket index: [count per type]}``."""
    return {"window_ms": window_ms, "bucket_ms": bucket_ms,
            "buckets": [[i, *counts] for i, counts in sorted(buckets.items())]}


def window_counts_at(tile: dict, t_ms: int) -> dict[str, int]:
    """``{event type: count}`` (non-zero types only) of one window tile as of ``t_ms``."""
    bucket_ms = tile["bucket_ms"]
    floor = t_ms // bucket_ms - tile["window_ms"] // bucket_ms
    totals = [0] * len(EVENT_TYPES)
    for bucket in tile["buckets"]:
        if bucket[0] > floor:
            for j, c in enumerate(bucket[1:]):
                totals[j] += c
    return {EVENT_TYPES[j]: c for j, c in enumerate(totals) if c}


def decay_factor(dt_ms: int, half_life_ms: float) -> float:
    return 2.0 ** (-dt_ms / half_life_ms) if dt_ms > 0 else 1.0


def features_as_of(features: dict, t_ms: int, event_time: int | None = None) -> dict:
    """A copy of a stored ``features`` dict with its time-dependent fields evaluated at ``t_ms``,
    without the ``tiles`` (they describe the stored time, not ``t_ms``), plus ``as_of``
    (= ``t_ms``) and ``windows_as_of``: ``t_ms`` when the row has window tiles,
    else the row's own event time (a row written without ``tiles``, e.g. with a
    ``privacy.persist_fields`` list that leaves them out, can only be read as of its event time).
    Raises :class:`AsOfError` for a ``t_ms`` before the row's newest event: the online store keeps
    each user's newest state only. ``event_time``: the row's event time when the features leave
    ``last_event_time`` out (an allow-list)."""
    last = features.get("last_event_time", event_time)
    out = dict(features)
    out.pop("tiles", None)
    out["as_of"] = t_ms
    if last is None:  # a row without events has nothing that decays
        out["windows_as_of"] = t_ms
        return out
    if t_ms < last:
        raise AsOfError(f"as-of time {t_ms} is before the row's newest event {last}: the online store keeps "
                        "each user's newest state only (point-in-time rows: `recstream features --as-of`)")
    tiles = features.get("tiles") or {}
    windows = tiles.get("windows")
    if windows and "window_counts" in features:
        out["window_counts"] = {label: window_counts_at(tile, t_ms) for label, tile in windows.items()}
        out["windows_as_of"] = t_ms
    else:
        out["windows_as_of"] = last
    half = tiles.get("half_life_ms") or {}
    dt = t_ms - last
    interest = features.get("interest")
    if interest is not None and "short" in half and "long" in half:
        fs, fl = decay_factor(dt, half["short"]), decay_factor(dt, half["long"])
        out["interest"] = {**interest,
                           "short": {c: v * fs for c, v in interest.get("short", {}).items()},
                           "long": {c: v * fl for c, v in interest.get("long", {}).items()}}
    if "content_weight" in features and "content" in half:
        out["content_weight"] = features["content_weight"] * decay_factor(dt, half["content"])
    return out
