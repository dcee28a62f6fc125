"""HR/NDCG, ranking, coverage and diversity on hand-computed cases."""

import math

import numpy as np
import pytest

from model_export import metrics


def test_hit_rate_and_ndcg_hand_computed():
    ranks = [0, 1, 9, 10, 50]
    assert metrics.hit_rate(ranks, 10) == pytest.approx(3 / 5)
    expected = (1.0 + 1 / math.log2(3) + 1 / math.log2(11)) / 5
    assert metrics.ndcg(ranks, 10) == pytest.approx(expected)
    assert metrics.hit_rate([0], 1) == 1.0 and metrics.hit_rate([1], 1) == 0.0
    assert metrics.ndcg([], 10) == 0.0


def test_rank_of_target_counts_better_and_ties():
    scores = np.array([[0.5, 0.9, 0.1, 0.3],  # one better -> rank 1
                       [0.9, 0.1, 0.2, 0.3],  # best -> rank 0
                       [0.5, 0.5, 0.1, 0.6]])  # tie counts against target -> rank 2
    assert metrics.rank_of_target(scores).tolist() == [1, 0, 2]


def test_coverage_and_diversity():
    lists = [[2, 3], [2, 4]]
    assert metrics.coverage(lists, 10) == pytest.approx(0.3)
    assert metrics.entropy_diversity([[2], [2]], 10) == pytest.approx(0.0)
    assert metrics.entropy_diversity([[i] for i in range(10)], 10) == pytest.approx(1.0)
    feats = [[], [], [1], [1], [2]]
    # pairs (2,3): same genre -> 0; (2,4): disjoint -> 1
    assert metrics.intra_list_diversity(lists, feats) == pytest.approx(0.5)


def test_standard_error_over_users():
    hits = np.array([1, 0, 1, 1])
    assert metrics.standard_error(hits) == pytest.approx(np.std(hits, ddof=1) / 2)
    assert metrics.standard_error([0.5]) == 0.0
    assert metrics.ndcg_gains([0, 10], 10).tolist() == [1.0, 0.0]
