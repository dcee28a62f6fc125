"""Seeded negative sampling for the SASRec evaluation protocol.

As in the SASRec code, each evaluated target is ranked against 100 items drawn
uniformly from the catalogue by rejection (redrawn while the item is in the
user's history); unlike the original code the whole history, including the
validation and test items, is excluded, and the 100 negatives are distinct.
When there are more than 10,000 evaluable users, 10,000 are sampled (``max_users``; 0 = all).
The S3-Rec code ranks against 99 negatives and evaluates every user; ``recstream evaluate
--eval-negatives 99 --eval-users 0`` gives that protocol.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from model_export.data import N_RESERVED


def sample_users(users: list[str], max_users: int = 10_000, seed: int = 0) -> list[str]:
    """All users if there are at most ``max_users`` (or ``max_users`` <= 0), else a seeded sample (kept in input order)."""
    if max_users <= 0 or len(users) <= max_users:
        return list(users)
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(users), size=max_users, replace=False))
    return [users[i] for i in keep]


def sample_negatives(
    history: Iterable[int], n_items: int, n_neg: int = 100, rng: np.random.Generator | None = None
) -> np.ndarray:
    """``n_neg`` distinct item indices in ``[N_RESERVED, n_items)`` not in ``history``."""
    rng = rng if rng is not None else np.random.default_rng(0)
    seen = set(int(x) for x in history)
    n_real = n_items - N_RESERVED
    available = n_real - len(seen & set(range(N_RESERVED, n_items)))
    if available < n_neg:
        raise ValueError(f"only {available} non-interacted items available, need {n_neg} negatives")
    out: list[int] = []
    chosen: set[int] = set()
    while len(out) < n_neg:
        t = int(rng.integers(N_RESERVED, n_items))
        if t in seen or t in chosen:
            continue
        chosen.add(t)
        out.append(t)
    return np.asarray(out, dtype=np.int64)
