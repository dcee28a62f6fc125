"""Seeded synthetic interaction events for training the demo model.

Uses the project's generator (``recstream.sources.synthetic.generate_events``)
when it is importable, and otherwise a small self-contained generator with the
same event-dict layout, so the model tooling never depends on a download.
The fallback has learnable structure: users prefer a few categories, item
popularity is Zipf-like within a category, and items have "follow-up" items
that are often consumed next (a sequential signal).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

EVENT_TYPES = ("view", "click", "like", "add_to_cart", "purchase", "rating", "share")
_EVENT_P = np.array([0.55, 0.2, 0.08, 0.07, 0.04, 0.03, 0.03])


def synthetic_events(
    seed: int = 7,
    n_users: int = 2000,
    n_items: int = 500,
    n_events: int = 40000,
    use_project_generator: bool = True,
) -> Iterator[dict]:
    """Yield event dicts; prefers the project generator, falls back to :func:`fallback_events`."""
    if use_project_generator:
        try:
            from recstream.sources.synthetic import generate_events  # type: ignore
        except ImportError:
            generate_events = None
        if generate_events is not None:
            yield from generate_events(seed=seed, n_users=n_users, n_items=n_items, n_events=n_events)
            return
    yield from fallback_events(seed, n_users, n_items, n_events)


def fallback_events(seed: int, n_users: int, n_items: int, n_events: int,
                    n_categories: int = 20) -> Iterator[dict]:
    """Self-contained seeded generator (see module docstring)."""
    rng = np.random.default_rng(seed)
    item_cat = rng.integers(0, n_categories, size=n_items)
    by_cat = [np.flatnonzero(item_cat == c) for c in range(n_categories)]
    by_cat = [c if len(c) else np.arange(n_items) for c in by_cat]
    cat_p = []
    for members in by_cat:
        w = 1.0 / np.arange(1, len(members) + 1) ** 0.8
        cat_p.append(w / w.sum())
    follow = rng.integers(0, n_items, size=(n_items, 3))
    # Each user gets a share of events (heavy-tailed) and 1-3 preferred categories.
    share = rng.pareto(1.5, size=n_users) + 1.0
    counts = np.maximum(2, np.round(share / share.sum() * n_events)).astype(int)
    t0 = 1_700_000_000_000
    for u in range(n_users):
        prefs = rng.choice(n_categories, size=rng.integers(1, 4), replace=False)
        t = t0 + int(rng.integers(0, 86_400_000))
        prev = None
        for _ in range(counts[u]):
            if prev is not None and rng.random() < 0.5:
                item = int(follow[prev, rng.integers(0, 3)])
            else:
                c = prefs[rng.integers(0, len(prefs))] if rng.random() < 0.85 else rng.integers(0, n_categories)
                item = int(rng.choice(by_cat[c], p=cat_p[c]))
            t += int(rng.integers(1_000, 3_600_000))
            prev = item
            yield {
                "user_id": f"u{u}",
                "item_id": f"i{item}",
                "event_type": str(EVENT_TYPES[rng.choice(len(EVENT_TYPES), p=_EVENT_P)]),
                "event_time": t,
                "category": f"c{item_cat[item]}",
            }
