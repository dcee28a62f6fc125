"""Seeded synthetic interaction stream.

Users have category preferences that drift between sessions; items follow a Zipf
popularity law within a catalogue of categories and tags; events come in sessions
with a view → click → cart → purchase funnel and dwell times; a few bot-like users
fire many uniform clicks; some events arrive late (far behind their event time)
and some payloads are malformed. The same seed always yields the same stream.

How events are shared among users (``user_dist``): ``pareto`` (default) gives every user at
least one event and a heavy-tailed activity, bots a large share, each user's events in sessions;
``uniform`` draws each event's user uniformly from ``n_users`` (users may get none, so ``n_events``
can be below ``n_users``) and its time uniformly over the span, so the stream is the superposition
of many independent users and one recurs within a short stretch of it only by chance (the traffic
of a service with millions of users, replayed faster than real time).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

import numpy as np

EVENT_MIX = {
    "view": 0.58, "click": 0.2, "like": 0.05, "add_to_cart": 0.05,
    "purchase": 0.02, "rating": 0.04, "search": 0.03, "share": 0.03,
}
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class SyntheticSpec:
    seed: int = 7
    n_users: int = 500
    n_items: int = 2000
    n_categories: int = 20
    n_events: int = 20_000
    span_hours: float = 72.0
    bot_users: int = 3
    late_fraction: float = 0.01
    late_lag_ms: tuple[int, int] = (2 * 3_600_000, 48 * 3_600_000)
    max_disorder_ms: int = 5_000
    malformed_fraction: float = 0.005
    zipf_exponent: float = 1.1
    start_ms: int = START_MS
    user_dist: str = "pareto"  # "pareto" | "uniform"


@dataclass
class Catalogue:
    categories: list[str]
    item_category: np.ndarray
    item_tags: list[list[str]]
    popularity: np.ndarray  # probability per item


def make_catalogue(spec: SyntheticSpec, rng: np.random.Generator) -> Catalogue:
    categories = [f"cat{c:02d}" for c in range(spec.n_categories)]
    item_category = rng.integers(0, spec.n_categories, spec.n_items)
    tags = [f"tag{t:02d}" for t in range(3 * spec.n_categories)]
    item_tags = [
        sorted({tags[(3 * int(c) + int(k)) % len(tags)] for k in rng.integers(0, 3, rng.integers(1, 3))})
        for c in item_category
    ]
    ranks = rng.permutation(spec.n_items) + 1
    pop = 1.0 / ranks ** spec.zipf_exponent
    return Catalogue(categories, item_category, item_tags, pop / pop.sum())


def _pick_item(rng, cat: Catalogue, pref: np.ndarray, by_cat: list[np.ndarray], by_cat_p: list[np.ndarray]) -> int:
    c = rng.choice(len(pref), p=pref)
    items = by_cat[c]
    if len(items) == 0:
        return int(rng.choice(len(cat.popularity), p=cat.popularity))
    return int(items[np.searchsorted(by_cat_p[c], rng.random() * by_cat_p[c][-1])])


def generate_events(spec: SyntheticSpec | None = None, **overrides) -> list[dict]:
    """Valid events in event-time order (no late or malformed ones).

    ``generate_events(seed=1, n_users=100, n_events=5000)`` is shorthand for a spec with
    those fields changed."""
    spec = SyntheticSpec(**{**(spec or SyntheticSpec()).__dict__, **overrides})
    rng = np.random.default_rng(spec.seed)
    cat = make_catalogue(spec, rng)
    by_cat = [np.flatnonzero(cat.item_category == c) for c in range(spec.n_categories)]
    by_cat_p = [np.cumsum(cat.popularity[ix]) for ix in by_cat]
    types, type_p = list(EVENT_MIX), np.array(list(EVENT_MIX.values()))
    span_ms = int(spec.span_hours * 3_600_000)
    n_bots = min(spec.bot_users, spec.n_users)
    if spec.user_dist == "uniform":
        quota = rng.multinomial(spec.n_events, np.full(spec.n_users, 1.0 / spec.n_users))
    elif spec.user_dist == "pareto":
        # activity per user is heavy-tailed; bots get a big share of events
        activity = rng.pareto(1.5, spec.n_users) + 0.2
        activity[:n_bots] = activity.max() * 3
        quota = np.maximum(1, (activity / activity.sum() * spec.n_events).astype(int))
    else:
        raise ValueError(f"user_dist must be 'pareto' or 'uniform', not {spec.user_dist!r}")
    events: list[dict] = []
    for u in np.flatnonzero(quota).tolist():
        uid = f"u{u:05d}"
        is_bot = u < n_bots
        pref = rng.dirichlet(np.full(spec.n_categories, 0.3))
        t = spec.start_ms + int(rng.random() * span_ms * 0.5)
        left = int(quota[u])
        times = None
        if spec.user_dist == "uniform":
            times = iter((np.sort(rng.integers(0, span_ms, left)) + spec.start_ms).tolist())
        while left > 0:
            session_len = min(left, int(rng.geometric(1 / (200 if is_bot else 8))))
            if not is_bot and rng.random() < 0.3:  # interest drift between sessions
                pref = 0.5 * pref + 0.5 * rng.dirichlet(np.full(spec.n_categories, 0.3))
            for _ in range(session_len):
                if is_bot:
                    item = int(rng.integers(0, spec.n_items))
                    etype = "click"
                    t += int(rng.integers(200, 800))
                else:
                    item = _pick_item(rng, cat, pref, by_cat, by_cat_p)
                    etype = types[rng.choice(len(types), p=type_p)]
                    t += int(rng.exponential(40_000)) + 1_000
                if times is not None:
                    t = next(times)
                ev = {
                    "event_id": f"e{len(events):08d}",
                    "user_id": uid,
                    "item_id": f"i{item:05d}",
                    "event_type": etype,
                    "event_time": t,
                    "category": cat.categories[cat.item_category[item]],
                    "tags": cat.item_tags[item],
                    "context": {"device": "bot" if is_bot else ("mobile" if rng.random() < 0.6 else "web")},
                }
                if etype in ("view", "click"):
                    ev["dwell_ms"] = int(rng.lognormal(9.5, 1.0)) if not is_bot else int(rng.integers(50, 300))
                if etype == "rating":
                    ev["rating"] = float(rng.integers(1, 11)) / 2
                if etype == "search":
                    ev["context"]["query"] = cat.categories[cat.item_category[item]]
                events.append(ev)
            left -= session_len
            t += int(rng.exponential(6 * 3_600_000)) + 31 * 60_000  # session gap
    events.sort(key=lambda e: (e["event_time"], e["event_id"]))
    return events


MALFORMED_KINDS = (
    lambda e: json.dumps(e)[:-7],  # truncated JSON
    lambda e: json.dumps({k: v for k, v in e.items() if k != "user_id"}),
    lambda e: json.dumps({**e, "event_type": "teleport"}),
    lambda e: json.dumps({**e, "event_time": "yesterday"}),
    lambda e: json.dumps({**e, "dwell_ms": -5}),
    lambda e: json.dumps({**e, "event_type": "rating", "rating": None}),
    lambda e: json.dumps([e["user_id"], e["item_id"]]),
    lambda e: "",
)


def replay_lines(spec: SyntheticSpec = SyntheticSpec()) -> Iterator[str]:
    """Raw payloads in arrival order: bounded disorder, some late arrivals, some malformed."""
    rng = np.random.default_rng(spec.seed + 1)
    events = generate_events(spec)
    n = len(events)
    arrival = np.array([e["event_time"] for e in events], dtype=np.int64)
    arrival += rng.integers(0, spec.max_disorder_ms + 1, n)
    late = rng.random(n) < spec.late_fraction
    lo, hi = spec.late_lag_ms
    arrival[late] += rng.integers(lo, hi, int(late.sum()))
    order = np.argsort(arrival, kind="stable")
    malformed = rng.random(n) < spec.malformed_fraction
    kinds = rng.integers(0, len(MALFORMED_KINDS), n)
    for i in order:
        e = events[i]
        if malformed[i]:
            yield MALFORMED_KINDS[kinds[i]](e)
        else:
            yield json.dumps(e, separators=(",", ":"))
