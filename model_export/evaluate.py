"""Offline evaluation with the SASRec protocol plus full-ranking metrics.

For every evaluable user (at most 10,000, seeded sample) the held-out target is
ranked (a) against 100 sampled non-interacted items (HR@10 / NDCG@10, the
paper's protocol) and (b) against the whole catalogue with the items already in
the input sequence removed (``full_hr@10`` / ``full_ndcg@10``).  Each of the four
comes with its standard error over users (``*_se`` = std / sqrt(n)).  The full-ranking
top-10 lists also give catalogue coverage and diversity (normalised entropy of
recommendation counts; intra-list category diversity when items have
categories).  The same users and negatives are used for every scorer, so the
model and baselines are compared on identical samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from model_export import metrics
from model_export.data import N_RESERVED
from model_export.negatives import sample_negatives, sample_users
from model_export.split import LeaveOneOut

Scorer = Callable[[list[list[int]]], np.ndarray]  # input sequences -> [B, n_items] scores


@dataclass
class EvalSet:
    users: list[str]
    inputs: list[list[int]]
    targets: np.ndarray
    negatives: np.ndarray  # [U, n_neg]
    skipped: int = 0  # users with fewer than n_neg non-interacted items (cannot be evaluated)


def build_eval_set(split: LeaveOneOut, n_items: int, phase: str = "test", seed: int = 0,
                   max_users: int = 10_000, n_neg: int = 100) -> EvalSet:
    """Users, model inputs, targets and sampled negatives for ``phase`` in {valid, test}."""
    if phase not in ("valid", "test"):
        raise ValueError(f"phase must be 'valid' or 'test', got {phase!r}")
    targets_map = split.test if phase == "test" else split.valid
    users = [u for u in targets_map if split.train.get(u)]
    users = sample_users(users, max_users, seed)
    rng = np.random.default_rng(seed + 1)
    inputs, targets, negs, kept = [], [], [], []
    n_real = n_items - N_RESERVED
    for u in users:
        hist = split.history(u)
        if n_real - len(set(hist)) < n_neg:
            continue
        kept.append(u)
        inputs.append(split.test_input(u) if phase == "test" else split.valid_input(u))
        targets.append(targets_map[u])
        negs.append(sample_negatives(hist, n_items, n_neg, rng))
    neg = np.stack(negs) if negs else np.zeros((0, n_neg), dtype=np.int64)
    return EvalSet(kept, inputs, np.asarray(targets, dtype=np.int64), neg, len(users) - len(kept))


def evaluate_scorer(scorer: Scorer, es: EvalSet, n_items: int, k: int = 10, batch_size: int = 256,
                    item_features: list[list[int]] | None = None) -> dict:
    """HR/NDCG@k (sampled and full ranking), coverage@k and diversity for one scorer."""
    sampled_ranks, full_ranks, tops = [], [], []
    for start in range(0, len(es.users), batch_size):
        stop = min(start + batch_size, len(es.users))
        seqs = es.inputs[start:stop]
        scores = np.asarray(scorer(seqs), dtype=np.float64)
        tgt = es.targets[start:stop]
        rows = np.arange(stop - start)
        cand = np.concatenate([tgt[:, None], es.negatives[start:stop]], axis=1)
        sampled_ranks.append(metrics.rank_of_target(scores[rows[:, None], cand]))
        full = scores.copy()
        full[:, :N_RESERVED] = -np.inf
        for r, s in enumerate(seqs):
            full[r, s] = -np.inf
        t_score = scores[rows, tgt]
        full[rows, tgt] = t_score
        full_ranks.append((full > t_score[:, None]).sum(1) + (full == t_score[:, None]).sum(1) - 1)
        top = np.argpartition(-full, k, axis=1)[:, :k]
        order = np.argsort(-full[rows[:, None], top], axis=1, kind="stable")
        tops.append(top[rows[:, None], order])
    s = np.concatenate(sampled_ranks) if sampled_ranks else np.zeros(0)
    f = np.concatenate(full_ranks) if full_ranks else np.zeros(0)
    top_lists = np.concatenate(tops) if tops else np.zeros((0, k), dtype=np.int64)
    n_catalog = n_items - N_RESERVED
    out = {
        f"hr@{k}": metrics.hit_rate(s, k),
        f"ndcg@{k}": metrics.ndcg(s, k),
        f"full_hr@{k}": metrics.hit_rate(f, k),
        f"full_ndcg@{k}": metrics.ndcg(f, k),
        f"hr@{k}_se": metrics.standard_error(s < k),
        f"ndcg@{k}_se": metrics.standard_error(metrics.ndcg_gains(s, k)),
        f"full_hr@{k}_se": metrics.standard_error(f < k),
        f"full_ndcg@{k}_se": metrics.standard_error(metrics.ndcg_gains(f, k)),
        f"coverage@{k}": metrics.coverage(top_lists, n_catalog),
        f"diversity@{k}": metrics.entropy_diversity(top_lists, n_catalog),
        "n_users": len(es.users),
        "skipped_users": es.skipped,
    }
    if item_features is not None:
        out[f"ild@{k}"] = metrics.intra_list_diversity(top_lists, item_features)
    return out


def popularity_scorer(split: LeaveOneOut, n_items: int, phase: str = "test") -> Scorer:
    """Most-popular baseline: item counts in the data visible at ``phase`` (ties: lower index)."""
    counts = np.zeros(n_items, dtype=np.float64)
    for u, seq in split.train.items():
        np.add.at(counts, seq, 1.0)
        if phase == "test" and u in split.valid:
            counts[split.valid[u]] += 1.0
    scores = counts - np.arange(n_items) * 1e-9
    scores[:N_RESERVED] = -np.inf

    def score(seqs: Sequence[Sequence[int]]) -> np.ndarray:
        return np.broadcast_to(scores, (len(seqs), n_items))

    return score


def popular_items(sequences: dict[str, list[int]], n_items: int, top: int = 100) -> list[int]:
    """Indices of the ``top`` most frequent items over all interactions (ties: lower index)."""
    counts = np.zeros(n_items, dtype=np.float64)
    for seq in sequences.values():
        np.add.at(counts, seq, 1.0)
    counts[:N_RESERVED] = -np.inf
    order = np.argsort(-counts, kind="stable")
    return [int(i) for i in order[: min(top, n_items - N_RESERVED)] if counts[i] > 0]
