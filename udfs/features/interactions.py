"""User x item and user x category interaction features, with bounded state.

Per user this keeps, for the ``max_items`` most recently touched distinct items and
for up to ``max_categories`` categories, the interaction count (frequency), the
newest event time (recency), dwell (total and mean over the events that carry
``dwell_ms``), the type of the newest event, and view / click / purchase counts for
funnel ratios. Categories also keep a decayed event count: the user's *affinity*
to a category is its share of the decayed counts over all tracked categories.

Definitions (used for items, categories and, through :func:`funnel_ratios`, users):

* ``click_per_view = clicks / views``, ``purchase_per_click = purchases / clicks``,
  ``purchase_per_view = purchases / views``; ``None`` when the denominator is 0.
  Event types are independent events in the stream (a click need not follow a
  recorded view), so a ratio can exceed 1.
* "last" means the event with the greatest event time; among equal event times
  the one folded last.
* ``recency_ms = now - last_event_time`` with ``now`` the newest event time folded.

Eviction (documented bounds):

* items: when a new item would exceed ``max_items``, the least recently *touched*
  item (in fold order) is dropped. State per user: at most ``max_items`` entries.
* categories: when a new category would exceed ``max_categories``, the category
  with the smallest decayed count as of the newest event time is dropped (ties:
  the alphabetically smallest name).

No wall clock is read: everything is a function of the events and their order,
so a batch fold over the same events gives the same state as the stream.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from schemas import event_types

EVENT_TYPES = event_types()
TYPE_INDEX = {t: i for i, t in enumerate(EVENT_TYPES)}
VIEW, CLICK, PURCHASE = TYPE_INDEX["view"], TYPE_INDEX["click"], TYPE_INDEX["purchase"]

# entry layout (plain lists pickle compactly)
COUNT, LAST_TS, DWELL, DWELL_N, LAST_TYPE, VIEWS, CLICKS, PURCHASES = range(8)
DECAYED = 8  # categories only: decayed count as of LAST_TS (the newest event time of the category)


@dataclass(frozen=True)
class InteractionParams:
    max_items: int = 20
    max_categories: int = 24
    affinity_half_life_ms: int = 7 * 86_400_000
    top_items: int = 10  # items in the read-out (newest first)
    top_categories: int = 10  # categories in the read-out (highest affinity first)
    k: float = field(init=False, repr=False)  # decay rate per ms, derived

    def __post_init__(self) -> None:
        for name in ("max_items", "max_categories", "top_items", "top_categories", "affinity_half_life_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"interactions.{name} must be >= 1, got {getattr(self, name)}")
        object.__setattr__(self, "k", math.log(2.0) / self.affinity_half_life_ms)


def ratio(num: int, den: int) -> float | None:
    """``num / den``, or ``None`` when ``den`` is 0 (undefined, not zero)."""
    return num / den if den else None


def funnel_ratios(views: int, clicks: int, purchases: int) -> dict:
    return {
        "click_per_view": ratio(clicks, views),
        "purchase_per_click": ratio(purchases, clicks),
        "purchase_per_view": ratio(purchases, views),
    }


def _touch(entry: list, ts: int, t: int, dwell) -> None:
    entry[COUNT] += 1
    if ts >= entry[LAST_TS]:
        entry[LAST_TS] = ts
        entry[LAST_TYPE] = t
    if dwell is not None:
        entry[DWELL] += dwell
        entry[DWELL_N] += 1
    if t == VIEW:
        entry[VIEWS] += 1
    elif t == CLICK:
        entry[CLICKS] += 1
    elif t == PURCHASE:
        entry[PURCHASES] += 1


def _decayed(entry: list, now: int, k: float) -> float:
    """A category's decayed count at ``now`` (not increased for ``now`` before its reference)."""
    return entry[DECAYED] * math.exp(-k * max(now - entry[LAST_TS], 0))


def _read(entry: list, now: int) -> dict:
    return {
        "count": entry[COUNT],
        "last_event_time": entry[LAST_TS],
        "recency_ms": now - entry[LAST_TS],
        "last_event_type": EVENT_TYPES[entry[LAST_TYPE]],
        "dwell_ms": entry[DWELL],
        "mean_dwell_ms": entry[DWELL] / entry[DWELL_N] if entry[DWELL_N] else None,
        **funnel_ratios(entry[VIEWS], entry[CLICKS], entry[PURCHASES]),
    }


# _read with the item id first / the affinity last, in one dict literal (the read-out's hot path)
def _read_item(item_id: str, entry: list, now: int) -> dict:
    count, last, dwell, dwell_n, last_type, views, clicks, purchases = entry
    return {
        "item_id": item_id, "count": count, "last_event_time": last, "recency_ms": now - last,
        "last_event_type": EVENT_TYPES[last_type], "dwell_ms": dwell,
        "mean_dwell_ms": dwell / dwell_n if dwell_n else None,
        "click_per_view": clicks / views if views else None,
        "purchase_per_click": purchases / clicks if clicks else None,
        "purchase_per_view": purchases / views if views else None,
    }


def _read_category(entry: list, now: int, affinity: float) -> dict:
    count, last, dwell, dwell_n, last_type, views, clicks, purchases, _ = entry
    return {
        "count": count, "last_event_time": last, "recency_ms": now - last,
        "last_event_type": EVENT_TYPES[last_type], "dwell_ms": dwell,
        "mean_dwell_ms": dwell / dwell_n if dwell_n else None,
        "click_per_view": clicks / views if views else None,
        "purchase_per_click": purchases / clicks if clicks else None,
        "purchase_per_view": purchases / views if views else None,
        "affinity": affinity,
    }


class UserInteractions:
    """Bounded user x item and user x category state of one user.

    Parameters are passed to each call (as with ``UserState``) so they are not
    pickled with every user's state."""

    __slots__ = ("items", "cats", "last_ts")

    def __init__(self) -> None:
        self.items: dict[str, list] = {}  # insertion order = touch order (least recent first)
        self.cats: dict[str, list] = {}
        self.last_ts = None

    def __getstate__(self):
        return (self.items, self.cats, self.last_ts)

    def __setstate__(self, state) -> None:
        self.items, self.cats, self.last_ts = state

    def apply(self, event: dict, p: InteractionParams) -> None:
        ts = event["event_time"]
        t = TYPE_INDEX[event["event_type"]]
        dwell = event.get("dwell_ms")
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        items = self.items
        item_id = event["item_id"]
        entry = items.pop(item_id, None)
        if entry is None:
            entry = [0, ts, 0, 0, t, 0, 0, 0]
            if len(items) >= p.max_items:
                del items[next(iter(items))]
        items[item_id] = entry
        _touch(entry, ts, t, dwell)
        cat = event.get("category")
        if cat is not None:
            self._add_category(cat, ts, t, dwell, p)

    def _add_category(self, cat: str, ts: int, t: int, dwell, p: InteractionParams) -> None:
        entry = self.cats.get(cat)
        if entry is None:
            entry = self.cats[cat] = [0, ts, 0, 0, t, 0, 0, 0, 1.0]
            if len(self.cats) > p.max_categories:
                self._evict_category(p)
        else:
            dt = ts - entry[LAST_TS]
            if dt >= 0:  # _touch below moves LAST_TS to ts
                entry[DECAYED] = entry[DECAYED] * math.exp(-p.k * dt) + 1.0
            else:
                entry[DECAYED] += math.exp(p.k * dt)
        _touch(entry, ts, t, dwell)

    def _evict_category(self, p: InteractionParams) -> None:
        now = self.last_ts
        weakest = min(self.cats, key=lambda c: (_decayed(self.cats[c], now, p.k), c))
        del self.cats[weakest]

    def item(self, item_id: str, now: int | None = None) -> dict | None:
        """Features of one tracked user x item pair (``None`` if not tracked)."""
        entry = self.items.get(item_id)
        return None if entry is None else _read(entry, self.last_ts if now is None else now)

    def affinities(self, p: InteractionParams, now: int | None = None) -> dict[str, float]:
        """Decayed-count share per category at ``now`` (sums to 1 over tracked categories)."""
        now = self.last_ts if now is None else now
        vals = {c: _decayed(e, now, p.k) for c, e in self.cats.items()}
        total = sum(vals.values())
        return {c: v / total for c, v in vals.items()} if total > 0 else {}

    def features(self, p: InteractionParams, now: int | None = None) -> dict:
        """Read-out as of ``now`` (default: the newest event time folded)."""
        if self.last_ts is None:
            return {"user_items": [], "user_categories": {}}
        now = self.last_ts if now is None else now
        # (-last, id, entry) tuples sort newest first, ties by id, without a key function (ids are unique)
        newest = sorted([(-e[LAST_TS], i, e) for i, e in self.items.items()])[: p.top_items]
        aff = self.affinities(p, now)
        top = sorted([(-a, c) for c, a in aff.items()])[: p.top_categories]
        cats = self.cats
        return {
            "user_items": [_read_item(i, e, now) for _, i, e in newest],
            "user_categories": {c: _read_category(cats[c], now, -na) for na, c in top},
        }
