"""Batch computation of the same per-user features over a finite list of events.

Used for backfill and as the reference the streaming job is tested against: events
are folded per user in the order given (the arrival order of the stream).
"""
from __future__ import annotations

from typing import Iterable

from udfs.events import try_parse_event
from udfs.features.params import FeatureParams
from udfs.features.user_state import UserState


def fold_events(events: Iterable[dict], params: FeatureParams) -> tuple[dict[str, UserState], list[dict]]:
    """Fold validated events into per-user states; returns (states, late events)."""
    states: dict[str, UserState] = {}
    late: list[dict] = []
    for event in events:
        uid = event["user_id"]
        state = states.get(uid)
        if state is None:
            state = states[uid] = UserState(params)
        if not state.apply(event, params):
            late.append(event)
    return states, late


def fold_raw(lines: Iterable[str | bytes], params: FeatureParams):
    """Validate raw payloads and fold the valid ones: (states, late, dead-lettered [(raw, reason)])."""
    valid, dead = [], []
    for raw in lines:
        event, reason = try_parse_event(raw)
        if event is None:
            dead.append((raw, reason))
        else:
            valid.append(event)
    states, late = fold_events(valid, params)
    return states, late, dead
