"""Training loop: seeded, early-stopped on validation NDCG@10, CUDA when present.

Each epoch visits every user once with the last ``max_len + 1`` items of the
training prefix (input = all but last, target = next item at every position),
as in the SASRec code.  Two losses are available:

* ``ce`` (default): full softmax cross-entropy over the item catalogue at every
  non-padding position -- converges much faster and higher than the paper's loss
  (cf. Klenitskiy & Vasilev, RecSys 2023, "Turning Dross Into Gold Loss");
* ``bce``: the paper's binary cross-entropy with one uniformly sampled negative
  per position.

The best model by validation NDCG@10 (sampled protocol) is kept; test metrics
are computed with :mod:`model_export.evaluate` and saved with the checkpoint.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model_export import __version__
from model_export.data import N_RESERVED, SequenceData, left_pad
from model_export.evaluate import build_eval_set, evaluate_scorer, popular_items
from model_export.encoders import InterestNet, ModelConfig
from model_export.split import LeaveOneOut, leave_one_out

CHECKPOINT_FILE = "checkpoint.pt"
META_FILE = "meta.json"


@dataclass
class TrainConfig:
    epochs: int = 200
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    loss: str = "ce"
    seed: int = 42
    eval_every: int = 5
    patience: int = 4  # evaluations without improvement before stopping
    device: str = "auto"
    threads: int = 2
    max_eval_users: int = 10_000


@dataclass
class TrainResult:
    model: InterestNet
    split: LeaveOneOut
    meta: dict = field(default_factory=dict)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def default_hparams(data: SequenceData) -> dict:
    """SASRec reference settings: dense data (ML-1M-like) maxlen 200 / dropout 0.2, sparse 50 / 0.5."""
    lengths = [len(s) for s in data.sequences.values()] or [0]
    dense = float(np.mean(lengths)) >= 50
    return {"max_len": 200 if dense else 50, "dropout": 0.2 if dense else 0.5}


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _training_arrays(split: LeaveOneOut, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    seqs = [s[-(max_len + 1):] for s in split.train.values() if len(s) >= 2]
    x = left_pad([s[:-1] for s in seqs], max_len)
    y = left_pad([s[1:] for s in seqs], max_len)
    return x, y


def model_scorer(model: InterestNet, device: torch.device):
    """Wrap a model as an :data:`evaluate.Scorer` (numpy scores over all items)."""
    max_len = model.cfg.max_len

    @torch.no_grad()
    def score(seqs):
        model.eval()
        x = torch.from_numpy(left_pad(seqs, max_len)).to(device)
        table = model.item_table()
        return model.scores(model.user_embedding(x, table), table).float().cpu().numpy()

    return score


def _loss(model: InterestNet, x: torch.Tensor, y: torch.Tensor, kind: str, gen: torch.Generator) -> torch.Tensor:
    table = model.item_table()
    h = model(x, table)
    m = y > 0
    h, tgt = h[m], y[m]
    if kind == "ce":
        logits = h @ table.T + model.score_mask
        return nn.functional.cross_entropy(logits, tgt)
    if kind == "bce":
        neg = torch.randint(N_RESERVED, table.shape[0], tgt.shape, generator=gen, device="cpu").to(tgt.device)
        pos_l = (h * table[tgt]).sum(-1)
        neg_l = (h * table[neg]).sum(-1)
        bce = nn.functional.binary_cross_entropy_with_logits
        return bce(pos_l, torch.ones_like(pos_l)) + bce(neg_l, torch.zeros_like(neg_l))
    raise ValueError(f"unknown loss {kind!r}; expected 'ce' or 'bce'")


def train_model(data: SequenceData, mcfg: ModelConfig, tcfg: TrainConfig, progress: bool = True,
                log=print) -> TrainResult:
    """Train ``mcfg`` on ``data`` and return the best model (by validation NDCG@10)."""
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    seed_everything(tcfg.seed)
    device = resolve_device(tcfg.device)
    split = leave_one_out(data.sequences)
    mcfg.n_items = data.n_items
    use_feats = data.item_features if mcfg.n_features else None
    model = InterestNet(mcfg, use_feats).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=tcfg.lr, betas=(0.9, 0.98), weight_decay=tcfg.weight_decay)
    x_all, y_all = _training_arrays(split, mcfg.max_len)
    if len(x_all) == 0:
        raise ValueError("no user has at least 2 training items; nothing to train on")
    valid_set = build_eval_set(split, data.n_items, "valid", tcfg.seed, tcfg.max_eval_users)
    rng = np.random.default_rng(tcfg.seed)
    gen = torch.Generator().manual_seed(tcfg.seed)
    best = (-1.0, 0, None)
    history = []
    bad = 0
    t0 = time.perf_counter()
    n_batches = (len(x_all) + tcfg.batch_size - 1) // tcfg.batch_size

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(f"[bold]{mcfg.encoder}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[info]}"), disable=not progress, transient=False)
    with bar:
        task = bar.add_task("train", total=tcfg.epochs, info="")
        for epoch in range(1, tcfg.epochs + 1):
            model.train()
            perm = rng.permutation(len(x_all))
            total = 0.0
            for b in range(n_batches):
                idx = perm[b * tcfg.batch_size:(b + 1) * tcfg.batch_size]
                x = torch.from_numpy(x_all[idx]).to(device)
                y = torch.from_numpy(y_all[idx]).to(device)
                loss = _loss(model, x, y, tcfg.loss, gen)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach())
            info = f"loss {total / n_batches:.4f}"
            if epoch % tcfg.eval_every == 0 or epoch == tcfg.epochs:
                m = evaluate_scorer(model_scorer(model, device), valid_set, data.n_items)
                history.append({"epoch": epoch, "loss": total / n_batches, "valid_ndcg@10": m["ndcg@10"],
                                "valid_hr@10": m["hr@10"]})
                if m["ndcg@10"] > best[0]:
                    best = (m["ndcg@10"], epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
                    bad = 0
                else:
                    bad += 1
                info += f" | val ndcg@10 {m['ndcg@10']:.4f} (best {best[0]:.4f} @ {best[1]})"
                if bad >= tcfg.patience:
                    bar.update(task, advance=1, info=info + " | early stop")
                    break
            bar.update(task, advance=1, info=info)
    if best[2] is not None:
        model.load_state_dict(best[2])
    train_seconds = time.perf_counter() - t0
    model.eval()
    test_set = build_eval_set(split, data.n_items, "test", tcfg.seed, tcfg.max_eval_users)
    test = evaluate_scorer(model_scorer(model, device), test_set, data.n_items, item_features=data.item_features)
    meta = {
        "version": __version__,
        "model": mcfg.to_dict(),
        "train": asdict(tcfg),
        "dataset": data.name,
        "data_hash": data.data_hash(),
        "n_users": len(data.sequences),
        "n_interactions": data.n_interactions,
        "item_ids": data.item_ids,
        "item_features": data.item_features,
        "feature_names": data.feature_names,
        "popularity": popular_items(data.sequences, data.n_items),
        "metrics": {"valid_ndcg@10": best[0], **test},
        "best_epoch": best[1],
        "epochs_run": history[-1]["epoch"] if history else 0,
        "history": history,
        "train_seconds": round(train_seconds, 2),
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return TrainResult(model, split, meta)


def save_checkpoint(result: TrainResult, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.cpu() for k, v in result.model.state_dict().items()}
    torch.save({"state_dict": state, "config": result.model.cfg.to_dict()}, out / CHECKPOINT_FILE)
    (out / META_FILE).write_text(json.dumps(result.meta, indent=1))
    return out


def load_checkpoint(ckpt_dir: str | Path, device: str = "cpu") -> tuple[InterestNet, dict]:
    """Load ``checkpoint.pt`` + ``meta.json``; clear errors naming the file on failure."""
    d = Path(ckpt_dir)
    meta_path, ckpt_path = d / META_FILE, d / CHECKPOINT_FILE
    for p in (meta_path, ckpt_path):
        if not p.exists():
            raise FileNotFoundError(f"{p}: missing; expected a checkpoint directory written by 'train'")
    try:
        meta = json.loads(meta_path.read_text())
        cfg = ModelConfig.from_dict(meta["model"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{meta_path}: not valid checkpoint metadata ({e})") from e
    try:
        blob = torch.load(ckpt_path, map_location=device, weights_only=True)
        model = InterestNet(cfg, meta.get("item_features") if cfg.n_features else None)
        model.load_state_dict(blob["state_dict"])
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        raise ValueError(f"{ckpt_path}: cannot load weights for {cfg.encoder} "
                         f"(n_items={cfg.n_items}, dim={cfg.dim}, max_len={cfg.max_len}): {e}") from e
    return model.to(device).eval(), meta
