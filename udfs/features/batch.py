"""Batch computation of the same per-user (and item) features over a finite list of events.

Used for backfill and as the reference the streaming job is tested against: events
are folded per user in the order given (the arrival order of the stream). The same
``UserState.apply_event`` and ``ItemAggregate.apply`` run as in the job's operators,
so a backfill writes the rows the stream would have written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from udfs.events import try_parse_event
from udfs.features.anomaly import excluded
from udfs.features.item_fold import ItemAggregate, item_record
from udfs.features.params import FeatureParams
from udfs.features.user_state import LATE, TYPE_INDEX, UserState


def fold_events(events: Iterable[dict], params: FeatureParams, ctx=None) -> tuple[dict[str, UserState], list[dict]]:
    """Fold validated events into per-user states; returns (states, late events).
    ``ctx``: the run-time inputs of the optional parts (``FoldRuntime``), or None."""
    states: dict[str, UserState] = {}
    late: list[dict] = []
    for event in events:
        uid = event["user_id"]
        state = states.get(uid)
        if state is None:
            state = states[uid] = UserState(params)
        if not state.apply(event, params, ctx):
            late.append(event)
    return states, late


def fold_raw(lines: Iterable[str | bytes], params: FeatureParams, ctx=None):
    """Validate raw payloads and fold the valid ones: (states, late, dead-lettered [(raw, reason)])."""
    valid, dead = [], []
    for raw in lines:
        event, reason = try_parse_event(raw)
        if event is None:
            dead.append((raw, reason))
        else:
            valid.append(event)
    states, late = fold_events(valid, params, ctx)
    return states, late, dead


@dataclass
class FoldResult:
    states: dict[str, UserState] = field(default_factory=dict)
    late: list[tuple[str, dict, int]] = field(default_factory=list)  # (raw, event, user's newest time then)
    dead: list[tuple[str, str]] = field(default_factory=list)  # (raw, reason)
    items: dict[str, ItemAggregate] = field(default_factory=dict)


def fold_with_items(lines: Iterable[str], params: FeatureParams, ctx=None, items: bool = True,
                    on_applied: Callable[[dict, int], None] | None = None) -> FoldResult:
    """``fold_raw`` plus the item features: every applied event goes to its item's
    :class:`ItemAggregate` with the exclusion the user's anomaly verdict gives it, as the
    job's user fold → item fold does. ``on_applied(event, verdict)`` sees every applied event."""
    out = FoldResult()
    states, aggs = out.states, out.items
    exclude = params.anomaly_on
    for raw in lines:
        event, reason = try_parse_event(raw)
        if event is None:
            out.dead.append((raw, reason))
            continue
        uid = event["user_id"]
        state = states.get(uid)
        if state is None:
            state = states[uid] = UserState(params)
        before = state.last_ts
        verdict = state.apply_event(event, params, ctx)
        if verdict == LATE:
            out.late.append((raw, event, before))
            continue
        if on_applied is not None:
            on_applied(event, verdict)
        if items:
            agg = aggs.get(event["item_id"])
            if agg is None:
                agg = aggs[event["item_id"]] = ItemAggregate(params.items)
            agg.apply(item_record(event, TYPE_INDEX[event["event_type"]],
                                  exclude and excluded(verdict, params.anomaly)), params.items)
    return out
