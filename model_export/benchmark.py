"""One evaluation run: the project's model and the baselines on the same split and samples.

Trains (or loads) the SASRec model, trains the GRU4Rec-style baseline with the
same settings, scores the most-popular baseline, and evaluates all three on the
identical leave-one-out test users and sampled negatives.  With an export
directory its ONNX models (FP32 / FP16 / INT8) are scored on the same samples.
"""

from __future__ import annotations

import time
from dataclasses import replace

from model_export.data import SequenceData
from model_export.evaluate import build_eval_set, evaluate_scorer, popularity_scorer
from model_export.encoders import ModelConfig
from model_export.split import leave_one_out
from model_export.train import TrainConfig, load_checkpoint, model_scorer, resolve_device, train_model


def run_benchmark(data: SequenceData, mcfg: ModelConfig, tcfg: TrainConfig, checkpoint: str | None = None,
                  with_gru: bool = True, progress: bool = True, log=print, onnx_dir: str | None = None,
                  eval_negatives: int = 100, eval_users: int | None = None) -> dict:
    """Return ``{"model": {...}, "baselines": {"most_popular": {...}, "gru": {...}}, ...}``.

    The test set: ``eval_negatives`` sampled negatives per user, ``eval_users`` users (None = the
    training configuration's ``max_eval_users``; 0 = all).  Validation during training is unchanged.
    """
    split = leave_one_out(data.sequences)
    max_users = tcfg.max_eval_users if eval_users is None else eval_users
    test_set = build_eval_set(split, data.n_items, "test", tcfg.seed, max_users, eval_negatives)
    users_text = "all users" if max_users <= 0 else f"<={max_users:,} users"
    feats = data.item_features
    result: dict = {"dataset": data.name, "data_hash": data.data_hash(), "n_users": len(data.sequences),
                    "n_items": data.n_items - 2, "n_interactions": data.n_interactions,
                    "protocol": f"leave-one-out; target vs {eval_negatives} sampled non-interacted items "
                                f"({users_text}); full ranking excludes items in the input sequence",
                    "eval_negatives": eval_negatives, "eval_users": max_users}
    if checkpoint:
        device = resolve_device(tcfg.device)
        model, meta = load_checkpoint(checkpoint, str(device))
        if meta.get("data_hash") != data.data_hash():
            log(f"warning: checkpoint data_hash {meta.get('data_hash')} differs from this data set")
        trained = {"train_seconds": meta.get("train_seconds"), "best_epoch": meta.get("best_epoch"),
                   "config": meta.get("model"), "train_config": meta.get("train")}
    else:
        t0 = time.perf_counter()
        res = train_model(data, mcfg, tcfg, progress=progress, log=log)
        model, device = res.model, resolve_device(tcfg.device)
        trained = {"train_seconds": round(time.perf_counter() - t0, 2), "best_epoch": res.meta["best_epoch"],
                   "epochs_run": res.meta["epochs_run"], "config": mcfg.to_dict(),
                   "train_config": res.meta["train"], "history": res.meta["history"]}
    result["model"] = {"name": model.cfg.encoder, **evaluate_scorer(model_scorer(model, device), test_set,
                                                                     data.n_items, item_features=feats), **trained}
    result["baselines"] = {"most_popular": evaluate_scorer(popularity_scorer(split, data.n_items, "test"),
                                                           test_set, data.n_items, item_features=feats)}
    if onnx_dir:
        from model_export.onnx_eval import evaluate_export

        result["onnx"] = evaluate_export(onnx_dir, data, tcfg.seed, max_users, test_set)
    if with_gru:
        gcfg = replace(mcfg, encoder="gru", extra={})
        t0 = time.perf_counter()
        gres = train_model(data, gcfg, tcfg, progress=progress, log=log)
        result["baselines"]["gru"] = {
            **evaluate_scorer(model_scorer(gres.model, resolve_device(tcfg.device)), test_set, data.n_items,
                              item_features=feats),
            "train_seconds": round(time.perf_counter() - t0, 2), "best_epoch": gres.meta["best_epoch"],
            "epochs_run": gres.meta["epochs_run"], "config": gcfg.to_dict()}
    return result


def results_table(result: dict):
    """A rich Table of the headline metrics for the model and baselines."""
    from rich.table import Table

    cols = ["hr@10", "ndcg@10", "full_hr@10", "full_ndcg@10", "coverage@10", "diversity@10", "ild@10"]
    t = Table(title=f"{result['dataset']}: {result['n_users']} users, {result['n_items']} items, "
                    f"{result['n_interactions']} interactions")
    t.add_column("model")
    for c in cols:
        t.add_column(c, justify="right")
    rows = [(result["model"]["name"] + " (project)", result["model"])]
    rows += [(f"onnx {v}", m) for v, m in result.get("onnx", {}).items()]
    rows += list(result["baselines"].items())
    for name, m in rows:
        t.add_row(name, *[f"{m[c]:.4f}" if c in m else "-" for c in cols])
    return t
