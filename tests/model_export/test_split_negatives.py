"""Leave-one-out split and the seeded sampled-negative protocol."""

import numpy as np
import pytest

from model_export.evaluate import build_eval_set
from model_export.negatives import sample_negatives, sample_users
from model_export.split import leave_one_out


def test_leave_one_out():
    sp = leave_one_out({"a": [2, 3, 4, 5], "b": [2, 3], "c": [4, 2, 3]})
    assert sp.train == {"a": [2, 3], "b": [2, 3], "c": [4]}
    assert sp.valid == {"a": 4, "c": 2} and sp.test == {"a": 5, "c": 3}
    assert sp.valid_input("a") == [2, 3] and sp.test_input("a") == [2, 3, 4]
    assert sp.history("a") == [2, 3, 4, 5]


def test_negatives_never_in_history_distinct_and_seeded():
    hist = list(range(2, 60))
    a = sample_negatives(hist, 200, 100, np.random.default_rng(5))
    b = sample_negatives(hist, 200, 100, np.random.default_rng(5))
    assert np.array_equal(a, b)
    assert len(set(a.tolist())) == 100
    assert not set(a.tolist()) & set(hist)
    assert a.min() >= 2 and a.max() < 200  # never padding (0) or unknown (1)
    with pytest.raises(ValueError):
        sample_negatives(list(range(2, 150)), 200, 100)


def test_sample_users_caps_at_max():
    users = [str(i) for i in range(50)]
    assert sample_users(users, 100) == users
    s = sample_users(users, 10, seed=1)
    assert len(s) == 10 and s == sample_users(users, 10, seed=1) and set(s) <= set(users)
    assert sample_users(users, 0) == users


def test_eval_set_excludes_whole_history():
    seqs = {str(u): [2 + (u + i) % 150 for i in range(6)] for u in range(30)}
    sp = leave_one_out(seqs)
    es = build_eval_set(sp, 160, "test", seed=0)
    assert len(es.users) == 30 and es.negatives.shape == (30, 100)
    for u, neg, tgt in zip(es.users, es.negatives, es.targets):
        assert tgt == seqs[u][-1]
        assert not set(neg.tolist()) & set(seqs[u])
    es2 = build_eval_set(sp, 160, "test", seed=0)
    assert np.array_equal(es.negatives, es2.negatives)
