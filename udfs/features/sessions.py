"""Gap-based sessions over event time: two events of a user are in the same session
when a chain of events with gaps of at most ``gap_ms`` links them. The sessions are
a function of the set of event times, not of the order the events arrive in.

An out-of-order event can fall into a gap and merge two sessions, so the sessions
it could still reach are kept as intervals ``[start, last, events, dwell_ms]``.
The caller rejects events older than ``newest - lateness_ms`` (``UserState``'s
per-user lateness check); an event that is accepted can then only join an interval
whose ``last >= newest - lateness_ms - gap_ms``, so older intervals are folded into
the totals and dropped. At most ``lateness_ms // gap_ms + 2`` intervals are kept
(one or two with the defaults: 10 min lateness, 30 min gap).
"""
from __future__ import annotations


class Sessions:
    __slots__ = ("gap_ms", "count", "n_events", "open")

    def __init__(self, gap_ms: int) -> None:
        self.gap_ms = gap_ms
        self.count = 0  # sessions so far (closed and open)
        self.n_events = 0  # events in all sessions so far
        self.open: list[list[int]] = []  # reachable sessions [start, last, events, dwell_ms], by start

    def __getstate__(self):
        flat = [v for iv in self.open for v in iv]
        return (self.gap_ms, self.count, self.n_events, flat)

    def __setstate__(self, state) -> None:
        if isinstance(state, tuple) and len(state) == 4:
            self.gap_ms, self.count, self.n_events, flat = state
            self.open = [flat[i:i + 4] for i in range(0, len(flat), 4)]
            return
        # the earlier layout, pickle's default (None, {slot: value}): only the current session was kept
        s = state[1] if isinstance(state, tuple) else state
        self.gap_ms, self.count = s["gap_ms"], s["count"]
        self.n_events = s["closed_events"] + s["events"]
        self.open = [[s["start"], s["last"], s["events"], s["dwell_ms"]]] if s["count"] else []

    def add(self, ts: int, dwell_ms: int, lateness_ms: int = 0) -> None:
        """Fold an event in. ``ts`` must not be older than ``newest - lateness_ms``."""
        self.n_events += 1
        open_, gap = self.open, self.gap_ms
        if not open_:
            self.count += 1
            open_.append([ts, ts, 1, dwell_ms])
            return
        cur = open_[-1]
        if ts < cur[0]:
            self._insert_before_newest(ts, dwell_ms)
        elif ts <= cur[1] + gap:  # joins the newest session (earlier ones end more than gap before it)
            cur[2] += 1
            cur[3] += dwell_ms
            if ts > cur[1]:
                cur[1] = ts
        else:
            self.count += 1
            open_.append([ts, ts, 1, dwell_ms])
            horizon = ts - lateness_ms - gap  # no acceptable event can reach a session ending before it
            if open_[0][1] < horizon:
                self.open = [iv for iv in open_ if iv[1] >= horizon]

    def _insert_before_newest(self, ts: int, dwell_ms: int) -> None:
        """An out-of-order event before the newest session's start: it joins every session within
        gap of it (so it may bridge two), or starts one of its own in time order."""
        open_, gap = self.open, self.gap_ms
        hit = [i for i, iv in enumerate(open_) if iv[0] - gap <= ts <= iv[1] + gap]
        if not hit:
            self.count += 1
            pos = 0
            while open_[pos][0] < ts:
                pos += 1
            open_.insert(pos, [ts, ts, 1, dwell_ms])
            return
        first = open_[hit[0]]
        for i in hit[1:]:  # consecutive intervals: ts bridges the gaps between them
            iv = open_[i]
            first[1] = max(first[1], iv[1])
            first[2] += iv[2]
            first[3] += iv[3]
        del open_[hit[0] + 1:hit[-1] + 1]
        self.count -= len(hit) - 1
        if ts < first[0]:
            first[0] = ts
        elif ts > first[1]:
            first[1] = ts
        first[2] += 1
        first[3] += dwell_ms

    def snapshot(self) -> dict:
        cur = self.open[-1] if self.open else [0, 0, 0, 0]
        return {
            "count": self.count,
            "current_events": cur[2],
            "current_duration_ms": cur[1] - cur[0],
            "current_dwell_ms": cur[3],
            "avg_events": self.n_events / self.count if self.count else 0.0,
        }
