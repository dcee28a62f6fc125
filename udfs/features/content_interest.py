"""A user's content-interest vector: the time-decayed mean of the text embeddings of
the items they interacted with.

``vector(now)`` is ``sum_i w_i d_i e_i / sum_i w_i d_i`` with ``e_i`` the item
embedding of event i, ``d_i = 2^(-(now - t_i) / half_life)`` and ``w_i`` the event
weight (``event_weights``, default 1 per event; a rating weighs
``rating / 5 * rating_weight`` and ratings below ``min_rating`` are skipped, so a
disliked item does not pull the vector towards itself). The decay factor cancels
in the ratio for a common ``now``, so the mean is kept as a weighted sum and a
weight relative to an anchor time (see :class:`ContentInterest`); in-order and
out-of-order events are handled alike. Returned L2-normalised (ready for a cosine
with item embeddings).

State is bounded whatever the history: one float32 vector (dim 384: 1,536 bytes,
pickled as raw bytes, losslessly) and three numbers. Events whose item has no
embedding (not in the catalogue yet) are counted in ``missing`` and change nothing;
embeddings are assumed unit length (as the text encoder returns them).
No wall clock is read, and the floating-point operations are the same in a stream
and a batch fold over the same events in the same order, so both give bit-identical
vectors as long as they read the same stored item embeddings.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ContentParams:
    half_life_ms: int = 7 * 86_400_000
    event_weights: dict = field(default_factory=dict)  # event type -> weight; missing types weigh 1
    rating_weight: float = 1.0
    min_rating: float = 2.5
    k: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.half_life_ms <= 0:
            raise ValueError("content.half_life_ms must be > 0")
        if any(w < 0 for w in self.event_weights.values()) or self.rating_weight < 0:
            raise ValueError("content weights must be >= 0 (a mean of embeddings needs non-negative weights)")
        object.__setattr__(self, "k", math.log(2.0) / self.half_life_ms)

    def weight(self, event: dict) -> float:
        if event["event_type"] == "rating":
            r = float(event["rating"])
            return 0.0 if r < self.min_rating else r / 5.0 * self.rating_weight
        return float(self.event_weights.get(event["event_type"], 1.0))


class ContentInterest:
    """Decayed weighted sum of embeddings, kept relative to an anchor time ``t0``:
    ``vec = sum_i w_i exp(k (t_i - t0)) e_i`` and ``w`` likewise, so an event (in order
    or not) costs one scale-and-add and no re-decay of the whole vector. The anchor
    moves forward (rescaling once) when the newest exponent passes ``REBASE``."""

    __slots__ = ("vec", "w", "t0", "last", "missing")
    REBASE = 40.0  # exp(40) ~ 2e17: far from float32 overflow (3e38)

    def __init__(self) -> None:
        self.vec = None  # float32 [dim]
        self.w = 0.0
        self.t0 = None  # anchor time
        self.last = None  # newest event time folded
        self.missing = 0

    def __getstate__(self):
        return (None if self.vec is None else self.vec.tobytes(), self.w, self.t0, self.last, self.missing)

    def __setstate__(self, state) -> None:
        raw, self.w, self.t0, self.last, self.missing = state
        self.vec = None if raw is None else np.frombuffer(raw, dtype=np.float32).copy()

    def add(self, ts: int, emb: np.ndarray, weight: float, p: ContentParams) -> None:
        if weight <= 0:
            return
        if self.vec is None:
            self.vec = np.asarray(emb, dtype=np.float32) * np.float32(weight)
            self.w, self.t0, self.last = float(weight), ts, ts
            return
        x = p.k * (ts - self.t0)
        if x > self.REBASE:  # move the anchor to ts: scale everything down once
            f = math.exp(-x)
            self.vec *= np.float32(f)
            self.w *= f
            self.t0, x = ts, 0.0
        s = weight * math.exp(x)
        self.vec += emb * np.float32(s)
        self.w += s
        if ts > self.last:
            self.last = ts

    def apply(self, event: dict, embeddings, p: ContentParams) -> bool:
        """Fold an event in, looking its item up in ``embeddings`` (any mapping
        ``item_id -> float32 vector``). Returns False when the item has no embedding."""
        emb = embeddings.get(event["item_id"])
        if emb is None:
            self.missing += 1
            return False
        self.add(event["event_time"], emb, p.weight(event), p)
        return True

    def vector(self) -> np.ndarray | None:
        """Unit-length decayed mean embedding (``None`` before any weighted event)."""
        if self.vec is None or self.w <= 0:
            return None
        n = float(np.linalg.norm(self.vec))
        return self.vec / np.float32(n) if n > 0 else None

    def weight_at(self, now: int, p: ContentParams) -> float:
        """Decayed total weight at ``now``: how much evidence the vector rests on."""
        return self.w * math.exp(-p.k * (now - self.t0)) if self.t0 is not None else 0.0

    def features(self, p: ContentParams, now: int | None = None) -> dict:
        """``content_interest`` (list of floats or None), ``content_weight`` (decayed weight
        at ``now``, default the newest event time) and ``content_missing``."""
        v = self.vector()
        now = self.last if now is None else now
        return {"content_interest": None if v is None else v.tolist(),
                "content_weight": self.weight_at(now, p) if now is not None else 0.0,
                "content_missing": self.missing}
