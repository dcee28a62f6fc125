"""Export a trained checkpoint to ONNX (opset 17) with a PyTorch/ONNX Runtime parity check.

The exported graph takes ``item_seq`` int64 ``[batch, N]`` (left-padded with 0,
most recent item last; fixed N, dynamic batch) and returns ``embedding``
``[batch, D]``, ``topk_scores`` ``[batch, K]`` and ``topk_items`` int64
``[batch, K]``.  Scoring against the item table (MatMul) and TopK run inside
the graph; padding and unknown indices are masked to ``-inf`` before TopK.

Written files: ``model.onnx``, ``vocab.json`` (``item_ids``, ``popularity``),
``model.json`` (model card, including ``training_data``: data set name, item,
user and interaction counts and event-time range when the source had times),
and optionally ``model.fp16.onnx`` /
``model.int8.onnx`` with their measured accuracy change and CPU speed-up.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model_export import __version__
from model_export.data import N_RESERVED, PAD_INDEX, UNK_INDEX, left_pad
from model_export.encoders import InterestNet

OPSET = 17
MODEL_FILE, CARD_FILE, VOCAB_FILE = "model.onnx", "model.json", "vocab.json"
FP16_FILE, INT8_FILE = "model.fp16.onnx", "model.int8.onnx"
PARITY_BATCHES = (1, 7, 512)


class ExportGraph(nn.Module):
    """Inference graph: encoder -> last state -> scores vs. frozen item table -> TopK."""

    def __init__(self, model: InterestNet, top_k: int):
        super().__init__()
        n_real = model.cfg.n_items - N_RESERVED
        if not 1 <= top_k <= n_real:
            raise ValueError(f"top_k must be in [1, {n_real}] (number of real items), got {top_k}")
        self.model = model.eval()
        with torch.no_grad():
            self.register_buffer("table", model.item_table().detach().clone())
        self.register_buffer("mask", model.score_mask.detach().clone())
        self.k = top_k

    def forward(self, item_seq: torch.Tensor):
        h = self.model.user_embedding(item_seq, self.table)
        scores = h @ self.table.T + self.mask
        values, indices = torch.topk(scores, self.k, dim=-1)
        return h, values, indices


def fixed_batch(n_items: int, max_len: int, batch: int, seed: int = 0) -> np.ndarray:
    """Seeded batch of sequences with varied lengths (incl. one empty and one full row)."""
    rng = np.random.default_rng(seed)
    seqs = []
    for r in range(batch):
        n = 0 if r == 1 else (max_len if r == 0 else int(rng.integers(1, max_len + 1)))
        seqs.append(rng.integers(N_RESERVED, n_items, size=n).tolist())
    arr = left_pad(seqs, max_len)
    if batch > 2:
        arr[2, -1] = UNK_INDEX  # an unknown item at the most recent position
    return arr


def _session(path: Path, threads: int = 2):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _tied_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows whose top-(k+1) scores contain exact-ish ties (order among them is arbitrary)."""
    top = -np.sort(-scores, axis=1)[:, : k + 1]
    return (np.abs(np.diff(top, axis=1)) <= 1e-6).any(axis=1)


def check_parity(graph: ExportGraph, onnx_path: Path, batches=PARITY_BATCHES, atol: float = 1e-4) -> dict:
    """Compare PyTorch and ONNX Runtime on fixed batches; raise if they disagree.

    Embeddings must agree within ``atol`` and top-K ids must be identical.  Rows
    whose scores tie at machine precision (e.g. an untrained model on an empty
    sequence) may order tied items differently; for those rows the top-K scores
    must match instead, and the number of such rows is reported.
    """
    sess = _session(onnx_path)
    report = {}
    for b in batches:
        x = fixed_batch(graph.model.cfg.n_items, graph.model.cfg.max_len, b, seed=b)
        with torch.no_grad():
            h, v, i = (t.numpy() for t in graph(torch.from_numpy(x)))
            full = (graph.model.user_embedding(torch.from_numpy(x), graph.table) @ graph.table.T + graph.mask).numpy()
        oh, ov, oi = sess.run(None, {"item_seq": x})
        tied = _tied_rows(full, graph.k)
        emb_diff = float(np.abs(h - oh).max())
        same_ids = bool(np.array_equal(i[~tied], oi[~tied]))
        score_diff = float(np.abs(v - ov).max())
        report[str(b)] = {"embedding_max_abs_diff": emb_diff, "topk_ids_identical": same_ids,
                          "topk_scores_max_abs_diff": score_diff, "rows_with_tied_scores": int(tied.sum())}
        if emb_diff > atol or not same_ids or score_diff > atol:
            raise AssertionError(f"PyTorch/ONNX Runtime mismatch at batch {b}: {report[str(b)]}")
    return report


def _latency(sess, x: np.ndarray, repeats: int = 20) -> float:
    sess.run(None, {"item_seq": x})
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, {"item_seq": x})
        t.append(time.perf_counter() - t0)
    return float(np.median(t) * 1000)


def _served_hr(sess, inputs: np.ndarray, targets: np.ndarray, k: int) -> float:
    """HR@k of the raw graph output (what the streaming job would serve)."""
    hits = 0
    for s in range(0, len(inputs), 256):
        ids = sess.run(None, {"item_seq": inputs[s:s + 256]})[2][:, :k]
        hits += int((ids == targets[s:s + 256, None]).any(1).sum())
    return hits / max(1, len(inputs))


def compare_variant(ref_path: Path, var_path: Path, n_items: int, max_len: int, k: int,
                    eval_inputs: np.ndarray | None = None, eval_targets: np.ndarray | None = None) -> dict:
    """Accuracy change and CPU speed of a quantised/half variant against the FP32 model."""
    ref, var = _session(ref_path), _session(var_path)
    x = fixed_batch(n_items, max_len, 512, seed=123)
    rh, _, ri = ref.run(None, {"item_seq": x})
    vh, _, vi = var.run(None, {"item_seq": x})
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(ri, vi)])
    cos = np.sum(rh * vh, 1) / (np.linalg.norm(rh, axis=1) * np.linalg.norm(vh, axis=1) + 1e-12)
    out = {
        "file": var_path.name,
        "size_bytes": var_path.stat().st_size,
        "fp32_size_bytes": ref_path.stat().st_size,
        "topk_overlap_vs_fp32": float(overlap),
        "top1_agreement_vs_fp32": float(np.mean(ri[:, 0] == vi[:, 0])),
        "embedding_max_abs_diff": float(np.abs(rh - vh).max()),
        "embedding_min_cosine": float(cos.min()),
    }
    for b in (1, 64):
        xb = x[:b]
        r_ms, v_ms = _latency(ref, xb), _latency(var, xb)
        out[f"cpu_ms_batch{b}"] = v_ms
        out[f"fp32_cpu_ms_batch{b}"] = r_ms
        out[f"cpu_speedup_batch{b}"] = r_ms / v_ms if v_ms else None
    if eval_inputs is not None and len(eval_inputs):
        out["served_hr@10"] = _served_hr(var, eval_inputs, eval_targets, min(10, k))
        out["fp32_served_hr@10"] = _served_hr(ref, eval_inputs, eval_targets, min(10, k))
    return out


def _io_spec(path: Path) -> tuple[list, list]:
    import onnx

    m = onnx.load(str(path))
    def spec(vi):
        t = vi.type.tensor_type
        dims = [d.dim_param or d.dim_value for d in t.shape.dim]
        return {"name": vi.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name, "shape": dims}
    return [spec(v) for v in m.graph.input], [spec(v) for v in m.graph.output]


def training_data(meta: dict) -> dict:
    """What the model was trained on, for the model card (``time_range`` in the source's time unit, or None)."""
    span = meta.get("time_range")
    return {
        "dataset": meta.get("dataset"),
        "n_items": len(meta["item_ids"]) - N_RESERVED if meta.get("item_ids") else None,
        "n_users": meta.get("n_users"),
        "n_interactions": meta.get("n_interactions"),
        "time_range": {"first": span[0], "last": span[1]} if span else None,
    }


def export_model(model: InterestNet, meta: dict, out_dir: str | Path, top_k: int = 50, fp16: bool = False,
                 int8: bool = False, eval_inputs: list[list[int]] | None = None,
                 eval_targets: list[int] | None = None, log=print) -> dict:
    """Write the export directory and return the model card (see module docstring)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    cfg = model.cfg
    graph = ExportGraph(model, top_k).eval()
    onnx_path = out / MODEL_FILE
    dummy = torch.from_numpy(fixed_batch(cfg.n_items, cfg.max_len, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph, (dummy,), str(onnx_path), dynamo=False, opset_version=OPSET,
            input_names=["item_seq"], output_names=["embedding", "topk_scores", "topk_items"],
            dynamic_axes={"item_seq": {0: "batch"}, "embedding": {0: "batch"},
                          "topk_scores": {0: "batch"}, "topk_items": {0: "batch"}},
            do_constant_folding=True,
        )
    parity = check_parity(graph, onnx_path)
    log(f"parity ok for batch sizes {list(parity)}")
    inputs, outputs = _io_spec(onnx_path)
    ev_x = left_pad(eval_inputs, cfg.max_len) if eval_inputs else None
    ev_y = np.asarray(eval_targets, dtype=np.int64) if eval_targets else None
    variants = {}
    if fp16:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16

        m16 = convert_float_to_float16(onnx.load(str(onnx_path)), keep_io_types=True)
        onnx.save(m16, str(out / FP16_FILE))
        try:
            variants["fp16"] = compare_variant(onnx_path, out / FP16_FILE, cfg.n_items, cfg.max_len, top_k, ev_x, ev_y)
        except Exception as e:  # noqa: BLE001 - CPU EP may lack fp16 kernels; record it
            variants["fp16"] = {"file": FP16_FILE, "cpu_error": f"{type(e).__name__}: {e}"[:500]}
        log(f"fp16: {variants['fp16']}")
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(onnx_path), str(out / INT8_FILE), weight_type=QuantType.QInt8)
        variants["int8"] = compare_variant(onnx_path, out / INT8_FILE, cfg.n_items, cfg.max_len, top_k, ev_x, ev_y)
        log(f"int8: {variants['int8']}")
    item_ids = meta["item_ids"]
    vocab = {"item_ids": item_ids, "pad_index": PAD_INDEX, "unk_index": UNK_INDEX,
             "popularity": [int(i) for i in meta.get("popularity", [])][:100]}
    (out / VOCAB_FILE).write_text(json.dumps(vocab))
    import onnxruntime

    card = {
        "version": meta.get("version", __version__),
        "exporter_version": __version__,
        "encoder": cfg.encoder,
        "max_len": cfg.max_len,
        "top_k": top_k,
        "dim": cfg.dim,
        "n_items": cfg.n_items,
        "opset": OPSET,
        "inputs": inputs,
        "outputs": outputs,
        "metrics": meta.get("metrics", {}),
        "dataset": meta.get("dataset"),
        "data_hash": meta.get("data_hash"),
        "training_data": training_data(meta),
        "model_config": cfg.to_dict(),
        "parity": parity,
        "variants": variants,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "notes": "item_seq: left-padded with 0, most recent item last; 1 = unknown item. "
                 "topk_items are model item indices (vocab.json item_ids[i] is the raw id).",
    }
    (out / CARD_FILE).write_text(json.dumps(card, indent=1))
    return card
