"""Sliding-window event counts per event type, kept as time buckets.

Each window of length W is split into ``buckets_per_window`` buckets; the count
"in the last W" as of time T covers the buckets overlapping (T - W, T] at bucket
granularity (W / buckets_per_window). Buckets that fall out of the window are
evicted, so state per user is bounded whatever the event rate.
"""
from __future__ import annotations


class SlidingCounts:
    __slots__ = ("bucket_ms", "n_buckets", "n_types", "buckets", "head")

    def __init__(self, window_ms: int, buckets_per_window: int, n_types: int) -> None:
        self.bucket_ms = window_ms // buckets_per_window
        self.n_buckets = buckets_per_window
        self.n_types = n_types
        self.buckets: dict[int, list[int]] = {}
        self.head = None  # newest bucket index seen

    def add(self, ts: int, type_idx: int) -> None:
        b = ts // self.bucket_ms
        head = self.head
        if head is None or b > head:
            self.head = head = b
            floor = b - self.n_buckets
            if len(self.buckets) and min(self.buckets) <= floor:
                for k in [k for k in self.buckets if k <= floor]:
                    del self.buckets[k]
        elif b <= head - self.n_buckets:
            return  # older than the window as of the newest event
        counts = self.buckets.get(b)
        if counts is None:
            counts = self.buckets[b] = [0] * self.n_types
        counts[type_idx] += 1

    def totals(self) -> list[int]:
        """Counts per type over the window ending at the newest bucket."""
        if not self.buckets:
            return [0] * self.n_types
        return [sum(col) for col in zip(*self.buckets.values())]  # column sums in C: ~10x the loop
