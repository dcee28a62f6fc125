"""Evaluate exported ONNX models (FP32 / FP16 / INT8) with the PyTorch model's protocol.

The served graph ends in TopK over the masked catalogue scores; for evaluation
that score tensor (TopK's input) is exposed as an extra output, so the sampled
and full-ranking metrics are computed from exactly the numbers the serving
model ranks by, with the same users, negatives and history masking as
:func:`model_export.evaluate.evaluate_scorer`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model_export.data import SequenceData, left_pad
from model_export.evaluate import EvalSet, Scorer, build_eval_set, evaluate_scorer
from model_export.split import leave_one_out

VARIANT_FILES = {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8.onnx"}
SCORES_OUTPUT = "catalogue_scores"


def onnx_scorer(model_path: str | Path, max_len: int, threads: int = 2) -> Scorer:
    """A :data:`Scorer` returning the graph's catalogue scores (the TopK input) as float64."""
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(model_path))
    topk = [n for n in m.graph.node if n.op_type == "TopK"]
    if len(topk) != 1:
        raise ValueError(f"{model_path}: expected one TopK node in the served graph, found {len(topk)}")
    src = topk[0].input[0]
    # FP16 graphs keep float32 I/O but score in float16: expose the tensor under its own name via Identity.
    m.graph.node.append(onnx.helper.make_node("Identity", [src], [SCORES_OUTPUT]))
    m.graph.output.append(onnx.helper.make_empty_tensor_value_info(SCORES_OUTPUT))
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])

    def score(seqs):
        x = left_pad(seqs, max_len)
        return sess.run([SCORES_OUTPUT], {"item_seq": x})[0].astype(np.float64)

    return score


def evaluate_export(export_dir: str | Path, data: SequenceData, seed: int = 42, max_users: int = 10_000,
                    test_set: EvalSet | None = None) -> dict:
    """``{variant: metrics}`` for every ONNX variant present in ``export_dir``, on ``data``'s test split."""
    d = Path(export_dir)
    card = json.loads((d / "model.json").read_text())
    vocab = json.loads((d / "vocab.json").read_text())
    if vocab["item_ids"] != data.item_ids:
        raise ValueError(f"{d / 'vocab.json'}: vocabulary differs from the data set {data.name!r}")
    if test_set is None:
        test_set = build_eval_set(leave_one_out(data.sequences), data.n_items, "test", seed, max_users)
    out = {}
    for name, fname in VARIANT_FILES.items():
        if (d / fname).exists():
            try:
                scorer = onnx_scorer(d / fname, int(card["max_len"]))
                out[name] = evaluate_scorer(scorer, test_set, data.n_items, item_features=data.item_features)
            except Exception as e:  # noqa: BLE001 - e.g. an FP16 kernel missing on CPU: record, keep the others
                out[name] = {"file": fname, "error": f"{type(e).__name__}: {e}"[:500]}
    return out


def evaluate_checkpoint_and_export(model, export_dir: str | Path, data: SequenceData, seed: int = 42,
                                   max_users: int = 10_000) -> dict:
    """PyTorch model and its ONNX variants side by side on one test set: ``{"pytorch": ..., "fp32": ...}``."""
    import torch

    from model_export.train import model_scorer

    test_set = build_eval_set(leave_one_out(data.sequences), data.n_items, "test", seed, max_users)
    res = {"pytorch": evaluate_scorer(model_scorer(model, torch.device("cpu")), test_set, data.n_items,
                                      item_features=data.item_features)}
    res.update(evaluate_export(export_dir, data, seed, max_users, test_set))
    return res


def evaluation_table(results: dict, title: str):
    """A rich Table: one row per model (PyTorch, ONNX variants), the protocol's metrics as columns."""
    from rich.table import Table

    cols = ["hr@10", "ndcg@10", "full_hr@10", "full_ndcg@10", "n_users"]
    t = Table(title=f"{title}: test split, same users and negatives")
    t.add_column("model")
    for c in cols:
        t.add_column(c, justify="right")
    for name, m in results.items():
        t.add_row(name, *[(f"{m[c]:.4f}" if isinstance(m[c], float) else str(m[c])) if c in m else "-"
                          for c in cols])
    return t
