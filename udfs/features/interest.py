"""Exponentially time-decayed interest per category, short- and long-term.

Values are signed (a low rating adds a negative weight). Each category keeps
(short, long, ref_time): values decayed to ref_time. An event
at t >= ref_time decays the values to t and adds its weight; an out-of-order event
(t < ref_time) adds its weight already decayed to ref_time. Read-out decays every
category to a common time so the scores are comparable. Both the eviction (at
``max_categories``) and the read-out's top list go by absolute value, so strong
dislikes are kept and shown like strong likes.
"""
from __future__ import annotations

import math

LN2 = math.log(2.0)


class DecayedInterest:
    __slots__ = ("k_short", "k_long", "max_categories", "cats")

    def __init__(self, half_life_short_ms: int, half_life_long_ms: int, max_categories: int) -> None:
        self.k_short = LN2 / half_life_short_ms
        self.k_long = LN2 / half_life_long_ms
        self.max_categories = max_categories
        self.cats: dict[str, list[float]] = {}

    def add(self, category: str, ts: int, weight: float) -> None:
        entry = self.cats.get(category)
        if entry is None:
            self.cats[category] = [weight, weight, ts]
            if len(self.cats) > self.max_categories:
                self._evict(ts)
            return
        dt = ts - entry[2]
        if dt >= 0:
            entry[0] = entry[0] * math.exp(-self.k_short * dt) + weight
            entry[1] = entry[1] * math.exp(-self.k_long * dt) + weight
            entry[2] = ts
        else:
            entry[0] += weight * math.exp(self.k_short * dt)
            entry[1] += weight * math.exp(self.k_long * dt)

    def _evict(self, now: int) -> None:
        weakest = min(self.cats, key=lambda c: abs(self.value_at(c, now)[1]))
        del self.cats[weakest]

    def value_at(self, category: str, now: int) -> tuple[float, float]:
        s, l, ref = self.cats[category]
        dt = max(now - ref, 0)
        return s * math.exp(-self.k_short * dt), l * math.exp(-self.k_long * dt)

    def snapshot(self, now: int, top: int) -> dict:
        """The ``top`` strongest categories by short and by long score at ``now`` (by absolute
        value, ties by name: a strong dislike is as informative as a strong like, and the sign
        tells them apart) plus the short/long drift."""
        ks, kl, exp = self.k_short, self.k_long, math.exp
        names, shorts, longs = [], [], []
        for c, (s, l, ref) in self.cats.items():  # value_at, inlined (a decay to now <= ref is exactly 1)
            if now > ref:
                dt = now - ref
                s *= exp(-ks * dt)
                l *= exp(-kl * dt)
            names.append(c)
            shorts.append(s)
            longs.append(l)
        # (-|v|, name, v) tuples sort by strength then name without a key function (names are unique)
        short = sorted([(-abs(v), c, v) for c, v in zip(names, shorts)])[:top]
        long_ = sorted([(-abs(v), c, v) for c, v in zip(names, longs)])[:top]
        dot = sum([s * l for s, l in zip(shorts, longs)])
        ns = math.sqrt(sum([s * s for s in shorts]))
        nl = math.sqrt(sum([l * l for l in longs]))
        drift = 1.0 - dot / (ns * nl) if ns > 0 and nl > 0 else 0.0
        return {
            "short": {c: v for _, c, v in short},
            "long": {c: v for _, c, v in long_},
            "short_long_drift": drift,
        }
