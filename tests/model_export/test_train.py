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


def _cfgs(epochs, loss="sampled", dim=8, **kw):
    mcfg = ModelConfig(encoder="sasrec", max_len=10, dim=dim, n_blocks=1, dropout=0.1)
    tcfg = TrainConfig(epochs=epochs, eval_every=1, patience=10, seed=3, batch_size=32, lr=1e-2, loss=loss,
                       n_negatives=64, **kw)
    return mcfg, tcfg


def test_resume_continues_exactly(tiny_data, tmp_path):
    straight = train_model(tiny_data, *_cfgs(4), progress=False)
    train_model(tiny_data, *_cfgs(2), progress=False, out_dir=tmp_path / "run")
    assert json.loads((tmp_path / "run" / "meta.json").read_text())["best_epoch"] >= 1
    lines = []
    resumed = train_model(tiny_data, *_cfgs(4), log=lines.append, out_dir=tmp_path / "run", resume=True)
    assert lines[0].startswith(f"resuming from {tmp_path / 'run'} after epoch 2")
    assert [ln.split(" |")[0] for ln in lines if ln.startswith("epoch")] == ["epoch 3/4", "epoch 4/4"]
    for (k, va), vb in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(va, vb), k
    assert resumed.meta["history"] == [dict(h, seconds=r["seconds"]) for h, r
                                       in zip(straight.meta["history"], resumed.meta["history"])]
    with pytest.raises(ValueError, match="another model configuration"):
        m, t = _cfgs(4)
        m.dim = 16
        train_model(tiny_data, m, t, progress=False, out_dir=tmp_path / "run", resume=True)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train_model(tiny_data, *_cfgs(1), progress=False, out_dir=tmp_path / "empty", resume=True)


def test_best_checkpoint_is_written_during_training(tiny_data, tmp_path):
    train_model(tiny_data, *_cfgs(2), progress=False, out_dir=tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["complete"] is False and "valid_ndcg@10" in meta["metrics"]
    model, _ = load_checkpoint(tmp_path)  # loadable before training finished
    assert model.cfg.dim == 8
    assert not list(tmp_path.glob("*.tmp")) and (tmp_path / "state.pt").exists()


def test_plain_progress_lines_off_a_terminal(tiny_data):
    lines = []
    mcfg, tcfg = _cfgs(3)
    train_model(tiny_data, mcfg, tcfg, log=lines.append)  # pytest's stdout is not a terminal
    epochs = [ln for ln in lines if ln.startswith("epoch ")]
    assert len(epochs) == 3 and all("loss " in ln and "val ndcg@10 " in ln and "best " in ln for ln in epochs)
    assert " s/epoch: at most " in lines[1]


def test_sampled_loss_learns_and_cpu_autocast_runs(tiny_data):
    res = train_model(tiny_data, *_cfgs(5, dim=16), progress=False)
    assert res.meta["loss"] == "sampled" and res.meta["metrics"]["hr@10"] > 0.15  # random ranking: ~0.1
    assert {"hr@10_se", "ndcg@10_se", "full_hr@10_se", "full_ndcg@10_se"} <= set(res.meta["metrics"])
    amp = train_model(tiny_data, *_cfgs(1, amp="on"), progress=False)  # bfloat16 autocast on CPU
    assert amp.meta["amp"] == "bfloat16" and np.isfinite(amp.meta["history"][0]["loss"])
    assert train_model(tiny_data, *_cfgs(1, loss="auto"), progress=False).meta["loss"] == "ce"
