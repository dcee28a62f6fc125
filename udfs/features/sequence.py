"""The last-N interactions of a user, ordered by event time (ties by arrival)."""
from __future__ import annotations

import bisect
from array import array
from itertools import accumulate

_FORMAT = 1


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

    def __getstate__(self):
        """Compact form for keyed state (pickled on every update): the first time plus the gaps as
        unsigned 32-bit ints (signed 64-bit when a gap exceeds ~49 days), the item ids joined by NUL
        (a list if an id holds one) and the type indices as bytes; about half the pickled size of
        the lists (bench/README.md, state per user)."""
        times = self.times
        deltas = [b - a for a, b in zip(times, times[1:])]
        try:
            code, raw = "I", array("I", deltas).tobytes()
        except OverflowError:
            code, raw = "q", array("q", deltas).tobytes()
        ids = [i for i, _ in self.items]
        joined = "\x00".join(ids)
        if joined.count("\x00") != len(ids) - 1 and ids:
            joined = ids  # an id holds NUL
        return (_FORMAT, self.n, times[0] if times else None, code, raw, joined,
                bytes([t for _, t in self.items]))

    def __setstate__(self, state) -> None:
        if isinstance(state, tuple) and len(state) == 7 and state[0] == _FORMAT:
            _, self.n, first, code, deltas, joined, types = state
            times = list(accumulate(array(code, deltas), initial=first)) if first is not None else []
            ids = joined if isinstance(joined, list) else (joined.split("\x00") if times else [])
            self.times = times
            self.items = list(zip(ids, types))
            return
        # states pickled before the compact form: (None, {slot: value})
        slots = state[1] if isinstance(state, tuple) else state
        self.n, self.times, self.items = slots["n"], slots["times"], [tuple(x) for x in slots["items"]]

    def item_ids(self) -> list[str]:
        return [item for item, _ in self.items]

    def snapshot(self, type_names: tuple[str, ...]) -> list[dict]:
        return [
            {"item_id": item, "event_type": type_names[t], "event_time": ts}
            for ts, (item, t) in zip(self.times, self.items)
        ]
