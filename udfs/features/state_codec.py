"""The compact keyed-state form of a :class:`~udfs.features.user_state.UserState`.

The job writes every touched user's state back per micro-batch, and at high cardinality
almost every user in a batch has one new event, so the state's encode and decode are paid
per event. Pickle's generic form of the object graph (eight objects, a small list per window
bucket, per interest category and per tracked item) costs more than the fold itself. This
form is one flat tuple of primitives, a few ``bytes`` and a few flat lists of ints, which
pickle writes and reads in C with no per-object memo, and ``decode`` rebuilds the parts
without their ``__setstate__``:

``(FORMAT, seq, late, first_ts, last_ts, last_gap_ms, totals, dwell_total, rating_sum,
rating_count, windows, interest, sequence, sessions, inter, anom, content)``

* ``windows``: per window ``(bucket_ms, n_buckets, n_types, head, offsets, code, counts)``:
  each kept bucket as ``head - bucket`` (``bytes`` when all are < 256, else a list) and the
  bucket's per-type counts, concatenated, as one byte each (``code`` ``B``, when every count
  is < 256) or as little-endian unsigned 64-bit integers (``Q``);
* ``interest``: ``(k_short, k_long, max_categories, names, values, ages)``: the category
  names joined by NUL (a list if a name holds NUL), little-endian doubles (``struct``) of
  ``short, long`` per category and each category's reference time as its distance to
  ``last_ts``;
* ``inter``: ``(last_ts, item ids, item ints, category names, category ints, category decayed
  counts)`` or ``None``: the 8 integers of each entry in one flat list, each entry's newest
  event time as its distance to ``last_ts`` (small numbers pickle short), the decayed counts
  as little-endian doubles;
* ``sequence``, ``sessions``, ``anom``, ``content``: the parts' own compact tuples.

Nothing is rounded: a state decodes to the exact values it was encoded from, so the stream
(which round-trips states through keyed state) and the backfill (which does not) stay equal.
States written in the earlier forms (the generic pickle) still load: ``UserState`` dispatches
on the leading format number.
"""
from __future__ import annotations

import struct
from itertools import chain

from udfs.features.anomaly import UserAnomaly
from udfs.features.content_interest import ContentInterest
from udfs.features.interactions import UserInteractions
from udfs.features.interest import DecayedInterest
from udfs.features.sequence import LastN
from udfs.features.sessions import Sessions
from udfs.features.windows import SlidingCounts

FORMAT = 3
_NUL = "\x00"


def _join(names: list[str]):
    joined = _NUL.join(names)
    return joined if joined.count(_NUL) == len(names) - 1 or not names else names


def _split(joined, n: int) -> list[str]:
    if isinstance(joined, list):
        return joined
    return joined.split(_NUL) if n else []


def _doubles(values, n: int) -> bytes:
    """``n`` numbers as little-endian doubles (``struct`` is several times faster than ``array`` from a
    mixed int/float iterable)."""
    return struct.pack(f"<{n}d", *values)


def _undoubles(raw: bytes) -> tuple:
    return struct.unpack(f"<{len(raw) // 8}d", raw)


def _small(values: list[int]):
    try:
        return bytes(values)  # every value in 0..255
    except ValueError:
        return values


def _encode_window(w: SlidingCounts) -> tuple:
    head = w.head
    offsets = _small([head - b for b in w.buckets])
    try:
        code, raw = "B", bytes(chain.from_iterable(w.buckets.values()))  # every count in 0..255
    except ValueError:
        code, raw = "Q", struct.pack(f"<{w.n_types * len(w.buckets)}Q", *chain.from_iterable(w.buckets.values()))
    return (w.bucket_ms, w.n_buckets, w.n_types, head, offsets, code, raw)


def _decode_window(t: tuple) -> SlidingCounts:
    w = SlidingCounts.__new__(SlidingCounts)
    w.bucket_ms, w.n_buckets, w.n_types, head, offsets, code, raw = t
    w.head = head
    counts = list(raw) if code == "B" else list(struct.unpack(f"<{len(raw) // 8}Q", raw))
    n = w.n_types
    w.buckets = {head - o: counts[i * n:i * n + n] for i, o in enumerate(offsets)}
    return w


def _encode_interest(d: DecayedInterest, base) -> tuple:
    flat = list(chain.from_iterable(d.cats.values()))
    refs = flat[2::3]
    del flat[2::3]
    return (d.k_short, d.k_long, d.max_categories, _join(list(d.cats)), _doubles(flat, len(flat)),
            [base - r for r in refs])


def _decode_interest(t: tuple, base) -> DecayedInterest:
    d = DecayedInterest.__new__(DecayedInterest)
    d.k_short, d.k_long, d.max_categories, names, raw, ages = t
    v = _undoubles(raw)
    names = _split(names, len(ages))
    d.cats = {c: [v[2 * i], v[2 * i + 1], base - a] for i, (c, a) in enumerate(zip(names, ages))}
    return d


def _encode_inter(u: UserInteractions) -> tuple:
    last = u.last_ts
    items = list(chain.from_iterable(u.items.values()))
    items[1::8] = [last - t for t in items[1::8]]
    cats = list(chain.from_iterable(u.cats.values()))
    decayed = cats[8::9]
    del cats[8::9]
    cats[1::8] = [last - t for t in cats[1::8]]
    return (last, _join(list(u.items)), items, _join(list(u.cats)), cats, _doubles(decayed, len(decayed)))


def _decode_inter(t: tuple) -> UserInteractions:
    u = UserInteractions.__new__(UserInteractions)
    last, item_ids, items, cat_names, cats, decayed = t
    u.last_ts = last
    entries = [items[j:j + 8] for j in range(0, len(items), 8)]
    for e in entries:
        e[1] = last - e[1]
    u.items = dict(zip(_split(item_ids, len(entries)), entries))
    dec = _undoubles(decayed)
    centries = [cats[j:j + 8] for j in range(0, len(cats), 8)]
    for e, x in zip(centries, dec):
        e[1] = last - e[1]
        e.append(x)
    u.cats = dict(zip(_split(cat_names, len(centries)), centries))
    return u


def _part(cls, state):
    obj = cls.__new__(cls)
    obj.__setstate__(state)
    return obj


def encode(s) -> tuple:
    """The compact form of a ``UserState`` (its ``__getstate__``)."""
    return (FORMAT, s.seq, s.late, s.first_ts, s.last_ts, s.last_gap_ms, s.totals, s.dwell_total, s.rating_sum,
            s.rating_count, tuple(_encode_window(w) for w in s.windows), _encode_interest(s.interest, s.last_ts),
            s.sequence.__getstate__(), s.sessions.__getstate__(),
            None if s.inter is None else _encode_inter(s.inter),
            None if s.anom is None else s.anom.__getstate__(),
            None if s.content is None else s.content.__getstate__())


def decode(s, t: tuple) -> None:
    """Set the slots of ``s`` (a bare ``UserState``) from :func:`encode`'s tuple."""
    (_, s.seq, s.late, s.first_ts, s.last_ts, s.last_gap_ms, s.totals, s.dwell_total, s.rating_sum,
     s.rating_count, windows, interest, sequence, sessions, inter, anom, content) = t
    s.windows = [_decode_window(w) for w in windows]
    s.interest = _decode_interest(interest, s.last_ts)
    s.sequence = _part(LastN, sequence)
    s.sessions = _part(Sessions, sessions)
    s.inter = None if inter is None else _decode_inter(inter)
    s.anom = None if anom is None else _part(UserAnomaly, anom)
    s.content = None if content is None else _part(ContentInterest, content)
