"""ONNX export parity (batch 1/7/512) and the torch-free runtime, including bad input."""

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from model_export.data import left_pad  # noqa: E402
from model_export.export import ExportGraph, check_parity, export_model, fixed_batch  # noqa: E402
from model_export.runtime import InterestModel, ModelLoadError  # noqa: E402


def test_card_vocab_and_parity(tiny_export, tiny_trained):
    out, card = tiny_export
    assert {p.name for p in out.iterdir()} >= {"model.onnx", "model.json", "vocab.json", "model.int8.onnx"}
    assert card["opset"] == 17 and card["max_len"] == 12 and card["top_k"] == 10 and card["dim"] == 16
    assert card["inputs"] == [{"name": "item_seq", "dtype": "int64", "shape": ["batch", 12]}]
    assert [o["name"] for o in card["outputs"]] == ["embedding", "topk_scores", "topk_items"]
    assert set(card["parity"]) == {"1", "7", "512"}
    for r in card["parity"].values():
        assert r["embedding_max_abs_diff"] <= 1e-4 and r["topk_ids_identical"]
    vocab = json.loads((out / "vocab.json").read_text())
    assert vocab["item_ids"][:2] == ["<pad>", "<unk>"] and len(vocab["item_ids"]) == card["n_items"]
    assert 0 < len(vocab["popularity"]) <= 100
    int8 = card["variants"]["int8"]
    assert 0.0 <= int8["topk_overlap_vs_fp32"] <= 1.0 and int8["cpu_speedup_batch1"] > 0


@pytest.mark.parametrize("batch", [1, 7, 512])
def test_runtime_matches_torch(tiny_export, tiny_trained, batch):
    out, _ = tiny_export
    m = InterestModel.load(out, providers=["CPUExecutionProvider"])
    graph = ExportGraph(tiny_trained.model.cpu(), 10).eval()
    x = fixed_batch(m.n_items, m.max_len, batch, seed=99 + batch)
    x[x.sum(1) == 0, -1] = 2  # runtime substitutes popularity for empty rows; compare model rows only
    emb, scores, ids = m.run(x)
    with torch.no_grad():
        th, tv, ti = (t.numpy() for t in graph(torch.from_numpy(x)))
    assert emb.shape == (batch, 16) and emb.dtype == np.float32
    assert np.abs(emb - th).max() <= 1e-4
    assert (ids == m.item_ids[ti]).all()
    assert np.allclose(scores, tv, atol=1e-4)
    assert not np.isin(ti, [0, 1]).any()  # padding/unknown never recommended


def test_gru_export_parity(tiny_data, tmp_path):
    from model_export.encoders import InterestNet, ModelConfig

    torch.manual_seed(0)
    net = InterestNet(ModelConfig(encoder="gru", n_items=tiny_data.n_items, max_len=12, dim=16)).eval()
    graph = ExportGraph(net, 5)
    meta = {"item_ids": tiny_data.item_ids, "popularity": [2, 3]}
    card = export_model(net, meta, tmp_path, top_k=5, log=lambda *a: None)
    assert card["encoder"] == "gru"
    check_parity(graph, tmp_path / "model.onnx")


def test_runtime_attributes_and_encoding(tiny_export):
    out, card = tiny_export
    m = InterestModel.load(out, providers=["CPUExecutionProvider"])
    assert m.version == card["version"] and (m.max_len, m.top_k, m.dim) == (12, 10, 16)
    assert m.providers == ["CPUExecutionProvider"]
    assert m.popular_item_ids and all(isinstance(i, str) for i in m.popular_item_ids)
    known = [m.item_ids[i] for i in range(2, 30)]
    x = m.encode_sequences([known[:3], ["never-seen", known[0]], [], known])
    assert x.shape == (4, 12) and x.dtype == np.int64
    assert x[0].tolist() == [0] * 9 + [2, 3, 4]
    assert x[1, -2:].tolist() == [1, 2]  # unknown item -> reserved index 1
    assert not x[2].any()
    assert x[3].tolist() == list(range(18, 30))  # too long: last N kept


def test_runtime_handles_empty_unknown_and_bad_shapes(tiny_export):
    m = InterestModel.load(tiny_export[0], providers=["CPUExecutionProvider"])
    emb, scores, ids = m.recommend([[], ["nope", "also-nope"], [m.item_ids[5]] * 50])
    assert ids.shape == (3, 10)
    assert list(ids[0]) == m.popular_item_ids[:10] and np.isnan(scores[0]).all() and not emb[0].any()
    assert np.isfinite(emb[1:]).all() and np.isfinite(scores[1:]).all()
    assert "<pad>" not in set(ids.ravel()) and "<unk>" not in set(ids.ravel())
    # out-of-range indices are treated as unknown rather than crashing the graph
    _, _, ids2 = m.run(np.array([[0] * 11 + [10 ** 6]]))
    assert ids2.shape == (1, 10)
    with pytest.raises(ValueError, match=r"\[batch, 12\]"):
        m.run(np.zeros((2, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="integer"):
        m.run(np.zeros((2, 12), dtype=np.float32))
    assert m.run(np.zeros((0, 12), dtype=np.int64))[0].shape == (0, 16)


def _copy(src, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(src, d)
    return d


def test_missing_files(tiny_export, tmp_path):
    with pytest.raises(ModelLoadError, match="model directory not found"):
        InterestModel.load(tmp_path / "nowhere")
    for name in ("model.onnx", "model.json", "vocab.json"):
        d = _copy(tiny_export[0], tmp_path / name)
        (d / name).unlink()
        with pytest.raises(ModelLoadError, match=rf"{name}: missing"):
            InterestModel.load(d, providers=["CPUExecutionProvider"])


def test_corrupt_files(tiny_export, tmp_path):
    d = _copy(tiny_export[0], tmp_path / "a")
    (d / "model.onnx").write_bytes(b"\x00not an onnx model")
    with pytest.raises(ModelLoadError, match=r"model.onnx: corrupt"):
        InterestModel.load(d, providers=["CPUExecutionProvider"])
    d = _copy(tiny_export[0], tmp_path / "b")
    (d / "model.json").write_text("{broken")
    with pytest.raises(ModelLoadError, match=r"model.json: corrupt"):
        InterestModel.load(d)
    d = _copy(tiny_export[0], tmp_path / "c")
    (d / "vocab.json").write_text(json.dumps({"item_ids": ["<pad>", "<unk>", "x"]}))
    with pytest.raises(ModelLoadError, match=r"vocab.json: 'item_ids' must be a list of n_items="):
        InterestModel.load(d)


def test_wrong_shape_model(tiny_export, tiny_data, tmp_path):
    from model_export.encoders import InterestNet, ModelConfig

    other = tmp_path / "other"
    net = InterestNet(ModelConfig(encoder="sasrec", n_items=tiny_data.n_items, max_len=8, dim=16, n_blocks=1)).eval()
    export_model(net, {"item_ids": tiny_data.item_ids}, other, top_k=10, log=lambda *a: None)
    d = _copy(tiny_export[0], tmp_path / "d")
    shutil.copy(other / "model.onnx", d / "model.onnx")  # N=8 graph with an N=12 card
    with pytest.raises(ModelLoadError, match=r"model.onnx: wrong model signature .*expected input item_seq int64 \[batch, 12\]"):
        InterestModel.load(d, providers=["CPUExecutionProvider"])


def test_export_rejects_bad_top_k(tiny_trained):
    with pytest.raises(ValueError, match="top_k"):
        ExportGraph(tiny_trained.model, 10 ** 6)


def test_left_pad_matches_runtime(tiny_export):
    m = InterestModel.load(tiny_export[0], providers=["CPUExecutionProvider"])
    seqs = [[m.item_ids[i] for i in range(2, 2 + n)] for n in (0, 3, 20)]
    idx = [[m.index[s] for s in seq] for seq in seqs]
    assert np.array_equal(m.encode_sequences(seqs), left_pad(idx, 12))


def test_spinning_and_thread_settings_do_not_change_results(tiny_export):
    seqs = [[], ["nope"], None]
    base = InterestModel.load(tiny_export[0], providers=["CPUExecutionProvider"])
    seqs[2] = base.item_ids[3:20]
    want = base.recommend(seqs)
    for kw in ({"spin": True}, {"spin": False, "threads": 1}):
        m = InterestModel.load(tiny_export[0], providers=["CPUExecutionProvider"], **kw)
        got = m.recommend(seqs)
        np.testing.assert_allclose(got[0], want[0], atol=1e-6)
        assert (got[2] == want[2]).all()


def test_card_records_training_data_and_runtime_counts_unknown_items(tiny_export, tiny_data):
    out, card = tiny_export
    td = card["training_data"]
    assert td["n_items"] == tiny_data.n_items - 2 and td["n_users"] == len(tiny_data.sequences)
    assert [td["time_range"]["first"], td["time_range"]["last"]] == list(tiny_data.time_range)
    m = InterestModel.load(out, providers=["CPUExecutionProvider"])
    assert m.training_data == td
    known = tiny_data.item_ids[2]
    assert m.unknown_items([known, "nope", "nope", "<unk>"]) == 3  # reserved tokens are not items
    assert m.unknown_items([]) == 0
    assert m.mostly_unknown(["nope", "nope2", known]) and not m.mostly_unknown([known, "nope"])
    assert not m.mostly_unknown([])


def test_onnx_variants_evaluated_with_the_pytorch_protocol(tiny_export, tiny_trained, tiny_data):
    from model_export.onnx_eval import evaluate_checkpoint_and_export

    out, _ = tiny_export
    ev = evaluate_checkpoint_and_export(tiny_trained.model.cpu(), out, tiny_data, seed=0)
    assert set(ev) == {"pytorch", "fp32", "int8"}
    for k in ("hr@10", "ndcg@10", "full_hr@10", "full_ndcg@10"):
        assert ev["fp32"][k] == pytest.approx(ev["pytorch"][k], abs=0.01), k
        assert 0.0 <= ev["int8"][k] <= 1.0
    assert ev["fp32"]["n_users"] == ev["pytorch"]["n_users"] > 0
