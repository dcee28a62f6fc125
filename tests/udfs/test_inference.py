import numpy as np
import pytest

from udfs.inference import CPU, DecayedPopularity, Scorer, cosine_distance, select_providers


def test_cosine_distance_bounds():
    assert cosine_distance([1, 0], [1, 0]) == 0.0
    assert cosine_distance([1, 0], [-1, 0]) == 2.0
    assert cosine_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    assert cosine_distance(None, [1]) is None and cosine_distance([0, 0], [1, 1]) is None


def test_popularity_decays_and_ranks():
    p = DecayedPopularity(half_life_ms=1000)
    for _ in range(4):
        p.add("old", 0)
    p.add("new", 2000)
    p.add("new", 2000)
    assert [i for i, _ in p.top(2)] == ["new", "old"]  # 2 > 4 * 2^-2
    p.add("far", 10**9)  # forces a rescale without overflow
    assert p.top(1)[0][0] == "far" and all(np.isfinite(c) for _, c in p.top(3))


def test_cpu_provider_when_asked_and_bad_value():
    assert select_providers("cpu") == [CPU]
    with pytest.raises(ValueError, match="auto, cuda or cpu"):
        select_providers("tpu")


def test_scorer_cold_and_warm_users():
    from recstream.config import load_config

    scorer = Scorer.load(load_config().model.path, "cpu", cold_start_min_events=3)
    m = scorer.model
    scorer.observe_items(["i00005", "i00005"], 2)
    seqs = [["i00001", "i00002", "i00003"], ["i00001"], [], ["unknown-item"] * 5]
    out = scorer.score(seqs, [3, 1, 0, 5])
    assert [o.cold_start for o in out] == [False, True, True, False]
    assert out[1].items[0] == "i00005" and not any(out[1].embedding)
    emb, scores, items = m.recommend([seqs[0]])
    np.testing.assert_allclose(out[0].embedding, emb[0], atol=1e-6)
    assert out[0].items == [str(x) for x in items[0]] and len(out[3].items) == m.top_k
    # back-to-back repeats are dropped before the model, as in training
    again = scorer.score([["i00001", "i00001", "i00002", "i00003", "i00003"]], [5])[0]
    np.testing.assert_allclose(again.embedding, emb[0], atol=1e-6)
