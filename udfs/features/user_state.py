"""All features of one user in one compact object: the unit of keyed state.

``UserState.apply(event)`` folds one validated event in (or reports it late);
``UserState.features()`` reads the features out as of the user's newest event
time. The Flink job keeps exactly one pickled ``UserState`` per user key, so a
micro-batch of events costs one state read and one state write.

Lateness is judged per user: an event more than ``allowed_lateness_ms`` older than
the newest event time seen for that user is late (a per-key bounded-out-of-orderness
watermark). Unlike a global watermark this does not depend on processing-time
timing, so a replay or a backfill produces exactly the same state as the stream.

Optional parts, each switched by ``FeatureParams.<part>_on`` (config
``features.<part>.enabled``) and kept in the same object, so the one state read and
write per batch covers them too: user x item / category interactions
(:class:`UserInteractions`), rate and bot-session anomaly signals (:class:`UserAnomaly`)
and the content-interest vector (:class:`ContentInterest`). A part that is off costs
nothing and is absent from ``features()``. A state restored from before a part was
switched on starts that part from the next event (documented in docs/features.md).

``apply_event`` also returns the anomaly verdict of the event (``LATE`` for a late
one), which the job uses to keep flagged events out of item popularity. The run-time
inputs the parts need besides the event (population baseline, item embeddings) come
in a context object with ``population`` and ``embeddings`` attributes
(``udfs.features.runtime.FoldRuntime``); without one the anomaly part compares with
the configured prior and the content part sees no embeddings.
"""
from __future__ import annotations

import numpy as np

from schemas import event_types
from udfs.features import state_codec
from udfs.features.anomaly import UserAnomaly
from udfs.features.as_of import window_tiles
from udfs.features.content_interest import ContentInterest
from udfs.features.interactions import UserInteractions, funnel_ratios
from udfs.features.interest import DecayedInterest
from udfs.features.params import FeatureParams
from udfs.features.sequence import LastN
from udfs.features.sessions import Sessions
from udfs.features.windows import SlidingCounts

EVENT_TYPES = event_types()
TYPE_INDEX = {t: i for i, t in enumerate(EVENT_TYPES)}
RATING_INDEX = TYPE_INDEX["rating"]
VIEW, CLICK, PURCHASE = TYPE_INDEX["view"], TYPE_INDEX["click"], TYPE_INDEX["purchase"]
LATE = -1  # apply_event's result for a late event (verdicts are >= 0)
_NO_EMBEDDINGS: dict = {}


def interest_labels(event: dict) -> list[str]:
    """The names an event's interest weight is shared by: its category and its tags, each
    once (a category that is also a tag, or a repeated tag, does not get a second share)."""
    cat = event.get("category")
    tags = event.get("tags")
    if not tags:
        return [cat] if cat is not None else []
    return list(dict.fromkeys([cat, *tags] if cat is not None else tags))


class UserState:
    __slots__ = (
        "seq", "late", "first_ts", "last_ts", "last_gap_ms", "totals", "dwell_total",
        "rating_sum", "rating_count", "windows", "interest", "sequence", "sessions",
        "inter", "anom", "content",  # optional parts (None when off)
    )
    # keyed state: the compact form of udfs.features.state_codec (format 3); formats 2 and 1 still load

    def __init__(self, params: FeatureParams) -> None:
        n = len(EVENT_TYPES)
        # events folded in, applied + late (a late one changes late_events): the store orders writes of
        # equal event time by it, so every state change must raise it
        self.seq = 0
        self.late = 0
        self.first_ts = None
        self.last_ts = None
        self.last_gap_ms = None
        self.totals = [0] * n
        self.dwell_total = 0
        self.rating_sum = 0.0
        self.rating_count = 0
        self.windows = [SlidingCounts(w, params.buckets_per_window, n) for w in params.windows_ms]
        self.interest = DecayedInterest(params.half_life_short_ms, params.half_life_long_ms, params.max_categories)
        self.sequence = LastN(params.sequence_length)
        self.sessions = Sessions(params.session_gap_ms)
        self.inter = UserInteractions() if params.interactions_on else None
        self.anom = UserAnomaly() if params.anomaly_on else None
        self.content = ContentInterest() if params.content_on else None

    def __getstate__(self):
        return state_codec.encode(self)

    def __setstate__(self, state) -> None:
        if isinstance(state, tuple) and state and state[0] == state_codec.FORMAT:
            state_codec.decode(self, state)
            return
        if isinstance(state, tuple) and state and state[0] == 2:
            # format 2: (2, slot values...) with every part pickled in its own form
            for name, value in zip(self.__slots__, state[1:]):
                setattr(self, name, value)
            return
        # format 1 (before the optional parts): pickle's default (None, {slot: value}) of the 13 base slots
        slots = state[1] if isinstance(state, tuple) else state
        for name in self.__slots__:
            setattr(self, name, slots.get(name))

    def apply(self, event: dict, params: FeatureParams, ctx=None) -> bool:
        """Fold a validated event in. Returns False (and counts it) when it is late."""
        return self.apply_event(event, params, ctx) != LATE

    def apply_event(self, event: dict, params: FeatureParams, ctx=None) -> int:
        """Fold a validated event in; returns ``LATE`` (and counts it) when it is late, else the
        event's anomaly verdict (``udfs.features.anomaly``: tier | BOT; 0 with the part off)."""
        ts = event["event_time"]
        self.seq += 1
        if self.last_ts is not None and ts < self.last_ts - params.allowed_lateness_ms:
            self.late += 1
            return LATE
        etype = event["event_type"]
        t = TYPE_INDEX[etype]
        dwell = event.get("dwell_ms") or 0
        if self.last_ts is None:
            self.first_ts = self.last_ts = ts
        elif ts > self.last_ts:
            self.last_gap_ms = ts - self.last_ts
            self.last_ts = ts
        elif ts < self.first_ts:
            self.first_ts = ts
        self.totals[t] += 1
        self.dwell_total += dwell
        if t == RATING_INDEX:
            rating = float(event["rating"])
            self.rating_sum += rating
            self.rating_count += 1
            weight = (rating - 2.5) / 2.5 * params.rating_weight
        else:
            weight = params.event_weights.get(etype, 1.0)
        for w in self.windows:
            w.add(ts, t)
        labels = interest_labels(event)
        if labels:
            share = weight / len(labels)
            for c in labels:
                self.interest.add(c, ts, share)
        self.sequence.add(ts, event["item_id"], t)
        self.sessions.add(ts, dwell, params.allowed_lateness_ms)
        verdict = 0
        if params.interactions_on:
            inter = self.inter
            if inter is None:
                inter = self.inter = UserInteractions()
            inter.apply(event, params.interactions)
        elif self.inter is not None:
            self.inter = None
        if params.anomaly_on:
            anom = self.anom
            if anom is None:
                anom = self.anom = UserAnomaly()
            verdict = anom.apply(event, params.anomaly, ctx.population if ctx is not None else None)
        elif self.anom is not None:
            self.anom = None
        if params.content_on:
            content = self.content
            if content is None:
                content = self.content = ContentInterest()
            emb = ctx.embeddings if ctx is not None and ctx.embeddings is not None else _NO_EMBEDDINGS
            content.apply(event, emb, params.content)
        elif self.content is not None:
            self.content = None
        return verdict

    def features(self, params: FeatureParams) -> dict:
        """Features as of the newest event time of this user."""
        now = self.last_ts or 0
        n_events = sum(self.totals)
        span_days = max((now - (self.first_ts or now)) / 86_400_000, 1.0)
        windows = {}
        for wms, w in zip(params.windows_ms, self.windows):
            totals = w.totals()
            windows[FeatureParams.window_label(wms)] = {EVENT_TYPES[i]: c for i, c in enumerate(totals) if c}
        out = {
            "event_count": n_events,
            "counts": {EVENT_TYPES[i]: c for i, c in enumerate(self.totals) if c},
            "window_counts": windows,
            "dwell_ms_total": self.dwell_total,
            "avg_rating": self.rating_sum / self.rating_count if self.rating_count else None,
            "first_event_time": self.first_ts,
            "last_event_time": self.last_ts,
            "last_gap_ms": self.last_gap_ms,
            "events_per_day": n_events / span_days,
            "late_events": self.late,
            "session": self.sessions.snapshot(),
            "interest": self.interest.snapshot(now, params.top_categories),
            "tiles": self.tiles(params),
        }
        if params.interactions_on:
            totals = self.totals
            out["funnel"] = funnel_ratios(totals[VIEW], totals[CLICK], totals[PURCHASE])
            if self.inter is not None:
                out.update(self.inter.features(params.interactions, now))
            else:
                out.update(user_items=[], user_categories={})
        if params.anomaly_on:
            out["anomaly"] = (self.anom or UserAnomaly()).features()
        if params.content_on:
            ci = self.content or ContentInterest()
            vec = ci.vector()
            out.update(
                # 6 decimals (|error| <= 5e-7): half the JSON and half the encoding time of float32 reprs
                content_interest=None if vec is None else np.round(vec.astype(np.float64), 6).tolist(),
                content_weight=ci.weight_at(now, params.content) if now else 0.0,
                content_missing=ci.missing,
            )
        return out

    def tiles(self, params: FeatureParams) -> dict:
        """What a reader needs to evaluate the window counts and decayed values at a later time
        (``udfs.features.as_of``): each window's time buckets and the half-lives."""
        half = {"short": params.half_life_short_ms, "long": params.half_life_long_ms}
        if params.content_on:
            half["content"] = params.content.half_life_ms
        return {
            "windows": {FeatureParams.window_label(wms): window_tiles(wms, w.bucket_ms, w.buckets)
                        for wms, w in zip(params.windows_ms, self.windows)},
            "half_life_ms": half,
        }

    def sequence_snapshot(self) -> list[dict]:
        return self.sequence.snapshot(EVENT_TYPES)
