"""Gap-based sessions: a new session starts when an event comes more than
``gap_ms`` after the newest event of the current one. Events that arrive out of
order but within the allowed lateness join the current session."""
from __future__ import annotations


class Sessions:
    __slots__ = ("gap_ms", "count", "start", "last", "events", "dwell_ms", "closed_events")

    def __init__(self, gap_ms: int) -> None:
        self.gap_ms = gap_ms
        self.count = 0
        self.start = 0
        self.last = 0
        self.events = 0
        self.dwell_ms = 0
        self.closed_events = 0

    def add(self, ts: int, dwell_ms: int) -> None:
        if self.count == 0 or ts > self.last + self.gap_ms:
            self.closed_events += self.events
            self.count += 1
            self.start = self.last = ts
            self.events = 1
            self.dwell_ms = dwell_ms
            return
        self.events += 1
        self.dwell_ms += dwell_ms
        if ts > self.last:
            self.last = ts
        elif ts < self.start:
            self.start = ts

    def snapshot(self) -> dict:
        return {
            "count": self.count,
            "current_events": self.events,
            "current_duration_ms": self.last - self.start,
            "current_dwell_ms": self.dwell_ms,
            "avg_events": (self.closed_events + self.events) / self.count if self.count else 0.0,
        }
