import json
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest

from tests.text_encoder_helpers import exported_text_encoder
from udfs.content import TextEncoder, TextEncoderLoadError, embed_catalogue, item_text
from udfs.features.content_interest import ContentInterest, ContentParams

H = 3_600_000
T0 = 1_767_225_600_000
E1, E2 = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]


def ev(t, item, etype="view", **kw):
    return {"event_id": f"e{t}", "user_id": "u", "item_id": item, "event_type": etype, "event_time": T0 + t, **kw}


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return exported_text_encoder(tmp_path_factory)


def test_item_text_joins_catalogue_fields():
    assert item_text({"item_id": "i1", "title": "Toy Story (1995)", "description": " A toy comes alive. ",
                      "category": "Animation", "tags": ["Children's", "Comedy"]}) == \
        "Toy Story (1995). A toy comes alive.. Animation. Children's, Comedy"
    assert item_text({"item_id": "i2", "category": "cat03"}) == "cat03"
    assert item_text({"item_id": "i3"}) == ""


def test_content_interest_is_the_decayed_mean():
    p = ContentParams(half_life_ms=H)
    c = ContentInterest()
    assert c.vector() is None and c.features(p)["content_interest"] is None
    embs = {"a": E1, "b": E2}
    c.apply(ev(0, "a"), embs, p)
    c.apply(ev(H, "b"), embs, p)  # at T0+H: 0.5 * e1 + 1 * e2
    expected = np.array([0.5, 1.0, 0, 0]) / math.sqrt(1.25)
    np.testing.assert_allclose(c.vector(), expected, rtol=1e-6)
    assert c.weight_at(T0 + H, p) == pytest.approx(1.5) and c.weight_at(T0 + 2 * H, p) == pytest.approx(0.75)
    f = c.features(p)
    assert f["content_weight"] == pytest.approx(1.5) and f["content_missing"] == 0
    json.dumps(f)


def test_out_of_order_weights_ratings_and_missing_items():
    p = ContentParams(half_life_ms=H, event_weights={"purchase": 3.0})
    embs = {"a": E1, "b": E2}
    c = ContentInterest()
    c.apply(ev(H, "b"), embs, p)
    c.apply(ev(0, "a", "purchase"), embs, p)  # out of order: 3 * 0.5 = 1.5 at T0+H
    np.testing.assert_allclose(c.vector(), np.array([1.5, 1.0, 0, 0]) / math.sqrt(3.25), rtol=1e-6)
    before = c.vector().copy()
    assert not c.apply(ev(2 * H, "unknown"), embs, p) and c.missing == 1
    c.apply(ev(2 * H, "a", "rating", rating=2.0), embs, p)  # below min_rating: ignored
    np.testing.assert_array_equal(c.vector(), before)
    c.apply(ev(H, "a", "rating", rating=5.0), embs, p)  # weight 5/5 * 1.0 at T0+H
    np.testing.assert_allclose(c.vector(), np.array([2.5, 1.0, 0, 0]) / math.sqrt(7.25), rtol=1e-6)


def test_long_histories_rebase_without_overflow_and_match_float64():
    p = ContentParams(half_life_ms=H)
    rng = np.random.default_rng(1)
    embs = {f"i{k}": (v / np.linalg.norm(v)).astype(np.float32) for k, v in enumerate(rng.standard_normal((50, 16)))}
    times = np.sort(rng.integers(0, 2000 * H, 400))  # 2000 half-lives: rebases many times
    c = ContentInterest()
    ref = np.zeros(16)
    for t in times:
        k = f"i{rng.integers(0, 50)}"
        c.apply(ev(int(t), k), embs, p)
        ref += embs[k].astype(np.float64) * 2.0 ** ((int(t) - int(times[-1])) / H)
    assert np.isfinite(c.vec).all()
    cos = float(c.vector() @ (ref / np.linalg.norm(ref)))
    assert cos > 0.99999


def test_stream_with_pickled_state_is_bit_identical_to_batch_and_small():
    p = ContentParams()
    rng = np.random.default_rng(2)
    embs = {f"i{k}": (v / np.linalg.norm(v)).astype(np.float32) for k, v in enumerate(rng.standard_normal((30, 384)))}
    events = [ev(int(t), f"i{rng.integers(0, 30)}", rng.choice(["view", "click", "purchase"]))
              for t in np.cumsum(rng.integers(-20_000, 600_000, 500))]
    batch, stream = ContentInterest(), ContentInterest()
    for e in events:
        batch.apply(e, embs, p)
        stream = pickle.loads(pickle.dumps(stream))
        stream.apply(e, embs, p)
    assert stream.vec.tobytes() == batch.vec.tobytes() and stream.w == batch.w
    assert len(pickle.dumps(stream, protocol=pickle.HIGHEST_PROTOCOL)) < 1700


def test_params_reject_negative_weights():
    with pytest.raises(ValueError, match="non-negative"):
        ContentParams(event_weights={"view": -1.0})


def test_runtime_modules_import_without_torch():
    code = ("import sys; import udfs.content, udfs.privacy, udfs.features.content_interest, "
            "udfs.features.items, udfs.features.anomaly, udfs.features.interactions, udfs.features.params; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'sentence_transformers')]; "
            "assert not bad, bad; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_load_errors_name_the_missing_file(tmp_path):
    with pytest.raises(TextEncoderLoadError, match="model_export.text_encoder"):
        TextEncoder.load(tmp_path)
    with pytest.raises(ValueError, match="variant"):
        TextEncoder.load(tmp_path, variant="fp8")


def test_encoding_runs_without_torch_in_a_fresh_process(export):
    out, _ = export
    code = ("import sys; from udfs.content import TextEncoder; "
            f"e = TextEncoder.load({str(out)!r}, threads=1); v = e.encode(['a red shoe', 'space opera']); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers')]; "
            "assert not bad, bad; print(v.shape)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(2, 384)"


def test_encode_keeps_order_is_unit_length_and_batch_independent(export):
    out, _ = export
    enc = TextEncoder.load(out, threads=2, batch_size=3)
    texts = ["a", "a much longer text about the history of science fiction cinema", "", "space", "horror film",
             "Toy Story (1995)", "shoes"]
    v = enc.encode(texts)
    assert v.shape == (7, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    one_by_one = np.stack([enc.encode([t])[0] for t in texts])
    assert (np.sum(v * one_by_one, axis=1) > 0.99999).all()
    assert enc.encode([]).shape == (0, 384)


def test_similar_items_are_closer(export):
    out, _ = export
    enc = TextEncoder.load(out, threads=2)
    cat = [{"item_id": "a", "title": "Star Wars", "description": "space battles between rebels and an empire"},
           {"item_id": "b", "title": "Alien", "description": "a crew in deep space hunted by a creature"},
           {"item_id": "c", "title": "Pasta recipe", "description": "how to cook spaghetti with tomato sauce"},
           {"item_id": "a", "title": "Star Wars (1977)", "description": "space battles between rebels and an empire"}]
    embs = embed_catalogue(cat, enc)
    assert list(embs) == ["a", "b", "c"]  # last record of an id wins
    np.testing.assert_allclose(embs["a"], enc.encode([item_text(cat[3])])[0], atol=1e-6)
    assert embs["a"] @ embs["b"] > embs["a"] @ embs["c"] + 0.1
    # a user who watched space films has a content interest closer to the other space film
    p = ContentParams()
    c = ContentInterest()
    c.apply(ev(0, "a"), embs, p)
    assert c.vector() @ embs["b"] > c.vector() @ embs["c"]
