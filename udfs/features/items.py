"""Item features keyed by item: windowed popularity, trending, conversion, and a
cold-start top-K built from them.

``ItemState`` is the keyed state of one item (folded from every user's events on
that item). Definitions, with ``now`` the time the features are read at:

* ``popularity[W]``: events on the item in the sliding window W as of ``now``
  (bucketed like the user windows: ``W / buckets_per_window`` granularity), each
  event type weighted by ``popularity_weights`` (default 1: a plain event count).
* ``trending = (c_s + prior) / (c_l * W_s / W_l + prior)``: the short-window rate
  over the long-window rate, both expressed per short window, with ``prior``
  pseudo-events added to both (so an item with no events scores 1.0 and a single
  event cannot make an item "trend" by itself). ``c_s``/``c_l`` are
  ``popularity`` over ``trending_short_ms`` / ``trending_long_ms``. 1.0 means
  "as busy as usual", above 1 "busier than usual".
* ``decayed_popularity``: ``sum_i w_i * 2^(-(now - t_i) / half_life)`` over all
  events. It is kept as a single time-invariant log key
  ``L = ln(sum_i w_i * exp(k * t_i))`` (``k = ln 2 / half_life``), so items can be
  ranked without reading any clock: the ranking by ``L`` is the ranking by decayed
  popularity at every common ``now``, and out-of-order events need no special case.
* ``conversion``: funnel ratios (clicks/views, purchases/clicks, purchases/views)
  over the item's lifetime and over the long trending window; ``None`` when the
  denominator is 0.
* Events flagged by the anomaly detector can be folded with ``excluded=True``:
  they are only counted in ``excluded_events`` and change no other feature.

``PopularityTopK`` keeps the latest key ``L`` per item (from any number of keyed
item operators: ``merge`` takes the maximum, as ``L`` only grows) and returns the
cold-start top-K; ``rank_items`` ranks item states by any read-out (trending,
a window's popularity) at a given time for batch use.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from schemas import event_types
from udfs.features.interactions import funnel_ratios
from udfs.features.windows import SlidingCounts

EVENT_TYPES = event_types()
TYPE_INDEX = {t: i for i, t in enumerate(EVENT_TYPES)}
VIEW, CLICK, PURCHASE = TYPE_INDEX["view"], TYPE_INDEX["click"], TYPE_INDEX["purchase"]
NEG_INF = float("-inf")


def window_label(window_ms: int) -> str:
    s = window_ms // 1000
    if s % 3600 == 0:
        return f"{s // 3600}h"
    if s % 60 == 0:
        return f"{s // 60}m"
    return f"{s}s"


@dataclass(frozen=True)
class ItemParams:
    windows_ms: tuple[int, ...] = (3_600_000, 86_400_000, 7 * 86_400_000)
    buckets_per_window: int = 60
    trending_short_ms: int = 3_600_000
    trending_long_ms: int = 86_400_000
    trending_prior: float = 1.0  # pseudo-events per short window, added to both rates
    trending_min_events: int = 3  # rank_items(by="trending") skips items with fewer short-window events
    popularity_half_life_ms: int = 86_400_000
    popularity_weights: dict = field(default_factory=dict)  # event type -> weight; missing types weigh 1
    k: float = field(init=False, repr=False, compare=False)
    weights: tuple = field(init=False, repr=False, compare=False)  # per type index

    def __post_init__(self) -> None:
        if not self.windows_ms or any(w <= 0 or w % self.buckets_per_window for w in self.windows_ms):
            raise ValueError(f"items.windows_ms must be positive multiples of buckets_per_window, got {self.windows_ms}")
        for name in ("trending_short_ms", "trending_long_ms"):
            if getattr(self, name) not in self.windows_ms:
                raise ValueError(f"items.{name}={getattr(self, name)} must be one of items.windows_ms {self.windows_ms}")
        if self.trending_short_ms >= self.trending_long_ms:
            raise ValueError("items.trending_short_ms must be shorter than items.trending_long_ms")
        if self.trending_prior <= 0:
            raise ValueError("items.trending_prior must be > 0 (it keeps the ratio finite)")
        if self.popularity_half_life_ms <= 0:
            raise ValueError("items.popularity_half_life_ms must be > 0")
        unknown = set(self.popularity_weights) - set(EVENT_TYPES)
        if unknown or any(w < 0 for w in self.popularity_weights.values()):
            raise ValueError(f"items.popularity_weights: unknown types {sorted(unknown)} or negative weights")
        object.__setattr__(self, "k", math.log(2.0) / self.popularity_half_life_ms)
        object.__setattr__(self, "weights", tuple(float(self.popularity_weights.get(t, 1.0)) for t in EVENT_TYPES))


class ItemWindow(SlidingCounts):
    """``SlidingCounts`` with the same buckets and window semantics, but eviction from
    the front of the (time-ordered) bucket dict instead of a scan, so an item whose
    events each open a new bucket costs O(1) per event. A bucket created out of order
    may outlive its window until it reaches the front; every read filters by range."""

    __slots__ = ()

    def add(self, ts: int, type_idx: int) -> None:
        b = ts // self.bucket_ms
        head = self.head
        buckets = self.buckets
        if head is None or b > head:
            self.head = b
            floor = b - self.n_buckets
            while buckets:
                first = next(iter(buckets))
                if first > floor:
                    break
                del buckets[first]
        elif b <= head - self.n_buckets:
            return
        counts = buckets.get(b)
        if counts is None:
            counts = buckets[b] = [0] * self.n_types
        counts[type_idx] += 1

    def totals(self) -> list[int]:
        return window_totals_at(self, self.head * self.bucket_ms) if self.head is not None else [0] * self.n_types


def window_totals_at(w: SlidingCounts, now: int) -> list[int]:
    """Counts per type of a ``SlidingCounts`` in its window as of ``now`` (not as of its
    newest bucket): buckets ``(now_bucket - n_buckets, now_bucket]``, and never a bucket
    already outside the window as of the newest event (those may have been evicted)."""
    hi = now // w.bucket_ms
    lo = hi - w.n_buckets
    if w.head is not None and w.head - w.n_buckets > lo:
        lo = w.head - w.n_buckets
    out = [0] * w.n_types
    for b, counts in w.buckets.items():
        if lo < b <= hi:
            for i, c in enumerate(counts):
                out[i] += c
    return out


class ItemState:
    """Keyed state of one item. Parameters are passed per call (not pickled per item)."""

    __slots__ = ("totals", "windows", "log_pop", "first_ts", "last_ts", "excluded")

    def __init__(self, p: ItemParams) -> None:
        n = len(EVENT_TYPES)
        self.totals = [0] * n
        self.windows = [ItemWindow(w, p.buckets_per_window, n) for w in p.windows_ms]
        self.log_pop = NEG_INF
        self.first_ts = None
        self.last_ts = None
        self.excluded = 0

    def __getstate__(self):
        return (self.totals, self.windows, self.log_pop, self.first_ts, self.last_ts, self.excluded)

    def __setstate__(self, state) -> None:
        self.totals, self.windows, self.log_pop, self.first_ts, self.last_ts, self.excluded = state

    def apply(self, event: dict, p: ItemParams, excluded: bool = False) -> None:
        if excluded:
            self.excluded += 1
            return
        ts = event["event_time"]
        t = TYPE_INDEX[event["event_type"]]
        if self.last_ts is None:
            self.first_ts = self.last_ts = ts
        elif ts > self.last_ts:
            self.last_ts = ts
        elif ts < self.first_ts:
            self.first_ts = ts
        self.totals[t] += 1
        for w in self.windows:
            w.add(ts, t)
        wt = p.weights[t]
        if wt > 0:  # log_pop = logaddexp(log_pop, ln(wt) + k * ts), inlined
            x = p.k * ts if wt == 1.0 else math.log(wt) + p.k * ts
            lp = self.log_pop
            if lp == NEG_INF:
                self.log_pop = x
            elif lp >= x:
                self.log_pop = lp + math.log1p(math.exp(x - lp))
            else:
                self.log_pop = x + math.log1p(math.exp(lp - x))

    def state_seq(self) -> int:
        """Events folded into this state (counted and excluded): orders store writes."""
        return sum(self.totals) + self.excluded

    def popularity_key(self) -> float:
        """Time-invariant ranking key L (``-inf`` before any counted event)."""
        return self.log_pop

    def decayed_popularity(self, p: ItemParams, now: int) -> float:
        return math.exp(self.log_pop - p.k * now) if self.log_pop != NEG_INF else 0.0

    def window_counts(self, p: ItemParams, now: int) -> dict[int, list[int]]:
        return {wms: window_totals_at(w, now) for wms, w in zip(p.windows_ms, self.windows)}

    def trending(self, p: ItemParams, now: int, counts: dict | None = None) -> float:
        counts = counts or self.window_counts(p, now)
        c_s = _weighted(counts[p.trending_short_ms], p.weights)
        c_l = _weighted(counts[p.trending_long_ms], p.weights)
        return (c_s + p.trending_prior) / (c_l * p.trending_short_ms / p.trending_long_ms + p.trending_prior)

    def features(self, p: ItemParams, now: int | None = None) -> dict:
        """Read-out as of ``now`` (default: the item's newest event time)."""
        now = (self.last_ts or 0) if now is None else now
        counts = self.window_counts(p, now)
        long_ = counts[p.trending_long_ms]
        return {
            "event_count": sum(self.totals),
            "counts": {EVENT_TYPES[i]: c for i, c in enumerate(self.totals) if c},
            "popularity": {window_label(w): _weighted(c, p.weights) for w, c in counts.items()},
            "window_counts": {window_label(w): {EVENT_TYPES[i]: n for i, n in enumerate(c) if n} for w, c in counts.items()},
            "trending": self.trending(p, now, counts),
            "decayed_popularity": self.decayed_popularity(p, now),
            "conversion": funnel_ratios(self.totals[VIEW], self.totals[CLICK], self.totals[PURCHASE]),
            f"conversion_{window_label(p.trending_long_ms)}": funnel_ratios(long_[VIEW], long_[CLICK], long_[PURCHASE]),
            "first_event_time": self.first_ts,
            "last_event_time": self.last_ts,
            "excluded_events": self.excluded,
        }


def _weighted(counts: list[int], weights: tuple) -> float:
    return float(sum(c * w for c, w in zip(counts, weights)))


def fold_items(events, p: ItemParams, excluded=None) -> dict[str, ItemState]:
    """Batch fold of events into per-item states, in the order given. ``excluded`` is an
    optional predicate ``event -> bool`` (e.g. the anomaly verdict of that event)."""
    states: dict[str, ItemState] = {}
    for event in events:
        s = states.get(event["item_id"])
        if s is None:
            s = states[event["item_id"]] = ItemState(p)
        s.apply(event, p, excluded=bool(excluded(event)) if excluded else False)
    return states


def rank_items(states: dict[str, ItemState], p: ItemParams, now: int, k: int, by: str = "trending") -> list[tuple[str, float]]:
    """Top ``k`` items by ``by`` at ``now``: ``"trending"`` (items with at least
    ``trending_min_events`` short-window events), ``"decayed"``, or ``"popularity:<label>"``
    (e.g. ``"popularity:24h"``). Ties: item id ascending. Returns ``[(item_id, score)]``."""
    if by == "trending":
        def score(s):
            counts = s.window_counts(p, now)
            if _weighted(counts[p.trending_short_ms], p.weights) < p.trending_min_events:
                return None
            return s.trending(p, now, counts)
    elif by == "decayed":
        def score(s):
            return s.decayed_popularity(p, now) if s.log_pop != NEG_INF else None
    elif by.startswith("popularity:"):
        labels = {window_label(w): i for i, w in enumerate(p.windows_ms)}
        if by[11:] not in labels:
            raise ValueError(f"unknown window {by[11:]!r}; have {sorted(labels)}")
        idx = labels[by[11:]]

        def score(s):
            v = _weighted(window_totals_at(s.windows[idx], now), p.weights)
            return v if v > 0 else None
    else:
        raise ValueError(f"rank by 'trending', 'decayed' or 'popularity:<window>', got {by!r}")
    scored = ((i, score(s)) for i, s in states.items())
    return heapq.nsmallest(k, ((i, v) for i, v in scored if v is not None), key=lambda kv: (-kv[1], kv[0]))


class PopularityTopK:
    """Cold-start top-K by decayed popularity, fed with ``(item_id, key)`` updates.

    Keys are ``ItemState.popularity_key()`` values: time-invariant, so the top-K needs
    no clock and no rescaling, and decayed scores at any ``now`` follow from them.
    Bounded: above ``2 * max_items`` entries only the ``max_items`` best are kept."""

    __slots__ = ("k", "max_items", "keys")

    def __init__(self, half_life_ms: int, max_items: int = 100_000) -> None:
        self.k = math.log(2.0) / half_life_ms
        self.max_items = max_items
        self.keys: dict[str, float] = {}

    def update(self, item_id: str, key: float) -> None:
        if key == NEG_INF:
            return
        old = self.keys.get(item_id)
        if old is None or key > old:
            self.keys[item_id] = key
            if len(self.keys) > 2 * self.max_items:
                self.keys = dict(heapq.nsmallest(self.max_items, self.keys.items(), key=lambda kv: (-kv[1], kv[0])))

    def merge(self, other: "PopularityTopK") -> None:
        """Union with another instance (per item the larger key: keys only grow)."""
        for item_id, key in other.keys.items():
            self.update(item_id, key)

    def top(self, k: int, now: int) -> list[tuple[str, float]]:
        """``[(item_id, decayed popularity at now)]``, best first; ties by item id."""
        best = heapq.nsmallest(k, self.keys.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(i, math.exp(key - self.k * now)) for i, key in best]
