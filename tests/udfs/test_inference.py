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


def test_cold_start_users_get_the_item_paths_popular_list_from_the_store(tmp_path):
    import pickle

    from recstream.config import load_config
    from recstream.store.base import PopularItems
    from recstream.store.factory import StoreOpener
    from recstream.store.sqlite import SqliteStore
    from udfs.inference import StorePopular

    path = tmp_path / "s.sqlite"
    SqliteStore(path).close()
    source = pickle.loads(pickle.dumps(StorePopular(StoreOpener(str(path), read_only=True), refresh_s=0)))  # as shipped to workers
    scorer = Scorer.load(load_config().model.path, "cpu", cold_start_min_events=3, popular_source=source)
    scorer.observe_items(["i00005"], 2)
    # no list written yet: the scorer's own decayed counts
    assert scorer.score([["i00001"]], [1])[0].items[0] == "i00005"
    with SqliteStore(path) as store:
        store.set_popular_items([PopularItems("global", 10, ["i00042", "i00007"], [3.5, 1.25])])
    cold, warm = scorer.score([["i00001"], ["i00001", "i00002", "i00003"]], [1, 3])
    assert cold.cold_start and cold.items[:2] == ["i00042", "i00007"] and cold.scores[:2] == [3.5, 1.25]
    assert len(cold.items) == scorer.model.top_k  # filled up from the scorer's own counts
    assert not warm.cold_start and len(warm.items) == scorer.model.top_k
    source.close()


def test_a_short_popular_list_is_filled_up_from_the_scorers_own_counts():
    from recstream.config import load_config

    scorer = Scorer.load(load_config().model.path, "cpu", cold_start_min_events=3,
                         popular_source=lambda: [("i00042", 9.0)])
    scorer.observe_items(["i00005", "i00042"], 2)
    cold = scorer.score([[]], [0])[0]
    assert cold.items[:2] == ["i00042", "i00005"] and len(cold.items) == scorer.model.top_k
    assert len(set(cold.items)) == len(cold.items)


def test_rendered_scores_are_json_with_float32_precision():
    import json

    import numpy as np

    from udfs.inference import Score, render_score

    rng = np.random.default_rng(3)
    emb = (rng.normal(size=50) * 10.0 ** rng.integers(-8, 8, size=50)).astype(np.float32)
    emb[:3] = [0.0, -0.0, 1e-30]
    scores = np.sort(rng.normal(size=20).astype(np.float32))[::-1]
    s = Score(emb.tolist(), ['it"em', "b\\c", "ünï"] + [str(i) for i in range(17)], scores.tolist(), False)
    out = json.loads(render_score(s, 'v"1'))
    assert out["v"] == 'v"1' and out["cold"] is False and out["items"] == s.items
    # 7 significant digits: within a few float32 ulps of the model's values, order of scores kept
    np.testing.assert_allclose(out["emb"], emb, rtol=6e-7, atol=0)
    np.testing.assert_allclose(out["scores"], scores, rtol=6e-7, atol=0)
    assert out["scores"] == sorted(out["scores"], reverse=True)
    cold = json.loads(render_score(Score([0.0] * 4, [], [], True), "v"))
    assert cold == {"v": "v", "cold": True, "emb": [0.0] * 4, "items": [], "scores": [], "inp": 0, "unk": 0}


def test_non_finite_outputs_fall_back_to_json_dumps():
    import json

    from udfs.inference import Score, render_score

    line = render_score(Score([1.0, float("nan")], ["a"], [float("inf")], False), "v")
    out = json.loads(line)  # Python's json reads its own NaN/Infinity
    assert out["emb"][0] == 1.0 and out["emb"][1] != out["emb"][1] and out["scores"] == [float("inf")]


def test_drift_keeps_float32_bytes_and_reads_an_older_list():
    from udfs.inference import update_drift

    prev: dict = {}
    assert update_drift(prev, "u", False, [1.0, 0.0]) is None  # first warm score: nothing to compare
    assert isinstance(prev["u"], bytes) and len(prev["u"]) == 8
    assert update_drift(prev, "u", False, [0.0, 1.0]) == pytest.approx(1.0)
    assert update_drift(prev, "u", True, [0.0, 0.0]) is None and len(prev["u"]) == 8  # cold: state kept
    prev["v"] = [1.0, 1.0]  # a previous embedding as older versions stored it
    assert update_drift(prev, "v", False, [1.0, 1.0]) == pytest.approx(0.0, abs=1e-7)


def test_score_inputs_count_the_new_items_the_model_does_not_know(caplog):
    from recstream.config import load_config
    from udfs.inference import Scorer, score_inputs

    scorer = Scorer.load(load_config().model.path, "cpu", cold_start_min_events=1)
    known = next(iter(scorer.model.index))
    inputs = [([known, "nope-1", "nope-2"], ["nope-2", "nope-1"], 5, 3),  # 2 new items, both unknown
              ([known, known], [known], 6, 2),  # the new item is known
              (["nope-3"], [], 7, 1),  # nothing new (a late-only batch): nothing counted
              ([known, "nope-4"], 1, 8, 2)]  # an older score line: a count of the newest entries
    with caplog.at_level("WARNING", logger="recstream"):
        out = score_inputs(scorer, inputs, batch_size=2)
        score_inputs(scorer, inputs, batch_size=2)
    assert [(r.input_items, r.unknown_items) for r in out] == [(2, 2), (1, 0), (0, 0), (1, 1)]
    warnings = [r.getMessage() for r in caplog.records if "does not know" in r.getMessage()]
    assert len(warnings) == 1 and "2 of a user's 3 items" in warnings[0]  # once per scorer, naming the model
    assert str(scorer.model.directory) in warnings[0]
