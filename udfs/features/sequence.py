"""The last-N interactions of a user, ordered by event time (ties by arrival)."""
from __future__ import annotations

import bisect


class LastN:
    __slots__ = ("n", "times", "items")

    def __init__(self, n: int) -> None:
        self.n = n
        self.times: list[int] = []
        self.items: list[tuple[str, int]] = []  # (item_id, event type index)

    def add(self, ts: int, item_id: str, type_idx: int) -> None:
        times = self.times
        if len(times) >= self.n and ts < times[0]:
            return  # older than everything we keep
        pos = bisect.bisect_right(times, ts)
        times.insert(pos, ts)
        self.items.insert(pos, (item_id, type_idx))
        if len(times) > self.n:
            del times[0]
            del self.items[0]

    def item_ids(self) -> list[str]:
        return [item for item, _ in self.items]

    def snapshot(self, type_names: tuple[str, ...]) -> list[dict]:
        return [
            {"item_id": item, "event_type": type_names[t], "event_time": ts}
            for ts, (item, t) in zip(self.times, self.items)
        ]
