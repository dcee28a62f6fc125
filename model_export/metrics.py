"""Ranking metrics: HR@K, NDCG@K from 0-based ranks, their standard errors, catalog coverage and diversity."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def hit_rate(ranks: Sequence[int] | np.ndarray, k: int = 10) -> float:
    """Fraction of targets ranked in the top ``k`` (rank 0 = best)."""
    r = np.asarray(ranks)
    return float(np.mean(r < k)) if r.size else 0.0


def ndcg_gains(ranks: Sequence[int] | np.ndarray, k: int = 10) -> np.ndarray:
    """Per-target NDCG@k with a single relevant item: ``1/log2(rank+2)`` if ``rank < k``, else 0."""
    r = np.asarray(ranks, dtype=np.float64)
    return np.where(r < k, 1.0 / np.log2(r + 2.0), 0.0)


def ndcg(ranks: Sequence[int] | np.ndarray, k: int = 10) -> float:
    """Mean NDCG@k with a single relevant item."""
    gains = ndcg_gains(ranks, k)
    return float(gains.mean()) if gains.size else 0.0


def standard_error(values: Sequence[float] | np.ndarray) -> float:
    """Standard error of the mean over users: sample std / sqrt(n) (0 for fewer than 2 values)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0


def rank_of_target(scores: np.ndarray, target_col: int = 0) -> np.ndarray:
    """0-based rank of column ``target_col`` in each row (ties count against the target)."""
    scores = np.asarray(scores)
    t = scores[:, target_col : target_col + 1]
    others = np.delete(scores, target_col, axis=1)
    return (others >= t).sum(axis=1)


def coverage(top_lists: Iterable[Iterable[int]], n_catalog: int) -> float:
    """Fraction of the catalog that appears in at least one recommendation list."""
    seen = set()
    for lst in top_lists:
        seen.update(int(x) for x in lst)
    return len(seen) / n_catalog if n_catalog else 0.0


def entropy_diversity(top_lists: Iterable[Iterable[int]], n_catalog: int) -> float:
    """Normalised Shannon entropy of how often items are recommended (0 = one item, 1 = uniform)."""
    counts: dict[int, int] = {}
    for lst in top_lists:
        for x in lst:
            counts[int(x)] = counts.get(int(x), 0) + 1
    if not counts or n_catalog <= 1:
        return 0.0
    p = np.array(list(counts.values()), dtype=np.float64)
    p /= p.sum()
    return float(-(p * np.log(p)).sum() / np.log(n_catalog))


def intra_list_diversity(top_lists: Iterable[Sequence[int]], item_features: list[list[int]]) -> float:
    """Mean pairwise Jaccard distance of the items' category sets within each list."""
    vals = []
    for lst in top_lists:
        sets = [set(item_features[int(i)]) for i in lst]
        n = len(sets)
        if n < 2:
            continue
        tot, pairs = 0.0, 0
        for a in range(n):
            for b in range(a + 1, n):
                union = sets[a] | sets[b]
                tot += 1.0 - (len(sets[a] & sets[b]) / len(union) if union else 1.0)
                pairs += 1
        vals.append(tot / pairs)
    return float(np.mean(vals)) if vals else 0.0
