"""Training: reproducible with a seed, checkpoint round trip, clear checkpoint errors."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from model_export.evaluate import build_eval_set, evaluate_scorer, popularity_scorer  # noqa: E402
from model_export.encoders import ModelConfig  # noqa: E402
from model_export.train import (TrainConfig, load_checkpoint, model_scorer, save_checkpoint,  # noqa: E402
                                train_model)


def _small(data, encoder="sasrec", seed=1, epochs=2, lr=1e-3):
    mcfg = ModelConfig(encoder=encoder, max_len=10, dim=8, n_blocks=1, dropout=0.1)
    tcfg = TrainConfig(epochs=epochs, eval_every=1, seed=seed, batch_size=32, lr=lr)
    return train_model(data, mcfg, tcfg, progress=False)


def test_seeded_training_is_reproducible(tiny_data):
    a, b = _small(tiny_data), _small(tiny_data)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    assert a.meta["metrics"] == b.meta["metrics"]
    assert a.meta["data_hash"] == tiny_data.data_hash()


def test_gru_trains_and_beats_random(tiny_data):
    res = _small(tiny_data, "gru", epochs=5, lr=1e-2)
    assert res.meta["metrics"]["hr@10"] > 0.15  # random ranking of 101 items gives ~0.1


def test_trained_model_learns_something(tiny_trained, tiny_data):
    es = build_eval_set(tiny_trained.split, tiny_data.n_items, "test", seed=0)
    m = evaluate_scorer(model_scorer(tiny_trained.model, torch.device("cpu")), es, tiny_data.n_items)
    assert m["hr@10"] > 0.2 and 0 < m["coverage@10"] <= 1
    pop = evaluate_scorer(popularity_scorer(tiny_trained.split, tiny_data.n_items), es, tiny_data.n_items)
    assert pop["coverage@10"] < m["coverage@10"]


def test_checkpoint_roundtrip_and_errors(tiny_trained, tmp_path):
    save_checkpoint(tiny_trained, tmp_path / "ck")
    meta = json.loads((tmp_path / "ck" / "meta.json").read_text())
    for key in ("item_ids", "model", "metrics", "data_hash", "version", "train_seconds"):
        assert key in meta
    model, meta2 = load_checkpoint(tmp_path / "ck")
    x = torch.from_numpy(np.array([[0] * 9 + [2, 3, 4]]))
    with torch.no_grad():
        assert torch.allclose(model.user_embedding(x), tiny_trained.model.cpu().eval().user_embedding(x))
    with pytest.raises(FileNotFoundError, match="checkpoint.pt: missing"):
        (tmp_path / "ck" / "checkpoint.pt").rename(tmp_path / "ck" / "moved.pt")
        load_checkpoint(tmp_path / "ck")
    (tmp_path / "ck" / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="checkpoint.pt: cannot load weights"):
        load_checkpoint(tmp_path / "ck")
