"""Keyed state per user, as the job stores it, with the arithmetic shown.

The job keeps one ``UserState`` per user as an entry of its bucket's Flink ``MapState`` of pickled
bytes (``Types.PICKLED_BYTE_ARRAY``); the bytes it holds are ``pickle.dumps(state,
HIGHEST_PROTOCOL)``, which stores the compact encoding of ``udfs.features.state_codec``. This
folds a replay with the job's code and reports the distribution of those sizes (exact), and a
rough share per part: each slot pickled on its own in its in-memory form, which is larger than its
share of the compact encoding, so the parts only rank the parts, they do not add up to the whole.
"""
from __future__ import annotations

import pickle
import statistics

from recstream.config import RecstreamConfig
from udfs.features.batch import fold_with_items
from udfs.features.runtime import FoldOptions, FoldRuntime
from udfs.features.user_state import UserState


def state_sizes(cfg: RecstreamConfig, lines: list[str]) -> dict:
    params = cfg.features.params()
    rt = FoldRuntime(FoldOptions.from_config(cfg), params)
    states = fold_with_items(lines, params, rt, items=False).states
    sizes = sorted(len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in states.values())
    parts: dict[str, list[int]] = {}
    for s in states.values():
        for name in UserState.__slots__:
            parts.setdefault(name, []).append(len(pickle.dumps(getattr(s, name), protocol=pickle.HIGHEST_PROTOCOL)))
    full = [s for s in states.values() if len(s.sequence.item_ids()) >= params.sequence_length]
    return {
        "users": len(sizes),
        "sequence_length": params.sequence_length,
        "bytes_median": statistics.median(sizes),
        "bytes_mean": round(statistics.fmean(sizes), 1),
        "bytes_p99": sizes[min(len(sizes) - 1, int(len(sizes) * 0.99))],
        "bytes_max": sizes[-1],
        "users_with_full_sequence": len(full),
        "bytes_median_full_sequence": statistics.median(
            len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in full) if full else None,
        "bytes_by_part_median": {k: statistics.median(v) for k, v in parts.items()},
    }
