"""Write timestamps that make last-write-wins stores order states like ``(event_time, state_seq)``.

Cassandra keeps, per cell, the value with the highest write timestamp (microseconds).
Every state write carries ``USING TIMESTAMP write_timestamp_us(event_time, state_seq)``,
so whatever order writes arrive in (replays after a failover, a backfill next to the
live job), the newest state wins, as it does in the SQLite store's guarded upsert.

Arithmetic::

    ts_us = event_time_ms * 1000 + (state_seq mod 1000)

* The event time keeps its meaning: ``ts_us`` lies inside the event's own millisecond,
  so the write time of a cell (``WRITETIME(col)``) reads as the state's event time, and
  ordinary writes and deletes stamped with "now" relate to it as to any other write.
* Two states whose event times differ order by event time, whatever their sequence
  numbers (also after a user's keyed state expired and ``state_seq`` restarted at 1).
* Within one event-time millisecond the 1000 microsecond slots order the states by
  ``state_seq``. This is exact as long as the two sequence numbers lie in the same block
  of 1000 (``state_seq // 1000`` equal). States of one user only share an event time
  when the later micro-batch brought nothing newer (late or same-millisecond events);
  if exactly such a pair straddles a multiple of 1000 (e.g. 999 and 1001 at one
  event time) the later state gets the *lower* timestamp and is ignored: the stored
  state then lags by those events until the user's next state with a newer event time.
  ``ordering_exact`` says whether a pair is inside the exact range.
* Equal ``(event_time, state_seq)`` gives equal timestamps: a replay of the same state
  rewrites the same values (Cassandra breaks exact ties by value, which only matters
  when the same state was computed twice with different results).
* Range: any event time in milliseconds from -9.2e15 to 9.2e15 (about ±292,000 years)
  fits a signed 64-bit microsecond timestamp.
"""
from __future__ import annotations

SLOTS_PER_MS = 1000
_MAX_MS = (2**63 - 1) // SLOTS_PER_MS - 1
_MIN_MS = -(2**63) // SLOTS_PER_MS + 1


def write_timestamp_us(event_time_ms: int, state_seq: int) -> int:
    """Microsecond write timestamp of the state ``(event_time_ms, state_seq)``."""
    event_time_ms = int(event_time_ms)
    state_seq = int(state_seq)
    if not _MIN_MS <= event_time_ms <= _MAX_MS:
        raise ValueError(f"event time {event_time_ms} ms is outside the 64-bit microsecond range")
    if state_seq < 0:
        raise ValueError(f"state_seq must be >= 0, got {state_seq}")
    return event_time_ms * SLOTS_PER_MS + state_seq % SLOTS_PER_MS


def ordering_exact(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """True when ``write_timestamp_us`` orders the states ``a`` and ``b`` exactly as the tuples do."""
    if a[0] != b[0]:
        return True
    return a[1] // SLOTS_PER_MS == b[1] // SLOTS_PER_MS
