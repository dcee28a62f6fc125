"""Training loop: seeded, early-stopped on validation NDCG@10, checkpointed, resumable.

Each epoch visits every user once with the last ``max_len + 1`` items of the
training prefix (input = all but last, target = next item at every position),
as in the SASRec code.  The loss is one of :mod:`model_export.losses`
(``auto`` by default: sampled softmax on large catalogues, full CE otherwise).

With an output directory the best model so far is written there (atomically)
whenever validation improves, and the last training state (weights, optimiser,
random streams, history) after every epoch, so ``resume=True`` continues a
stopped run exactly where it left off.  On CUDA, mixed precision
(``torch.autocast``) is used unless ``amp="off"``.
"""

from __future__ import annotations

import json
import os
import platform
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from model_export import __version__
from model_export.data import SequenceData, left_pad
from model_export.evaluate import build_eval_set, evaluate_scorer, popular_items
from model_export.encoders import InterestNet, ModelConfig
from model_export.losses import SharedNegatives, full_ce, item_counts, one_negative_bce, resolve_loss, sampled_softmax
from model_export.progress import EpochReporter
from model_export.split import LeaveOneOut, leave_one_out

CHECKPOINT_FILE = "checkpoint.pt"
META_FILE = "meta.json"
STATE_FILE = "state.pt"


@dataclass
class TrainConfig:
    epochs: int = 200
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    loss: str = "auto"
    n_negatives: int = 1024  # sampled loss: negatives shared by a batch
    neg_pop_mix: float = 0.5  # sampled loss: share of popularity in the negative distribution
    length_buckets: bool = True  # batch sequences of similar length (less padding to encode)
    seed: int = 42
    eval_every: int = 5
    patience: int = 4  # evaluations without improvement before stopping
    device: str = "auto"
    amp: str = "auto"  # auto (on for CUDA), on, off
    # One intra-op thread: the batches are small, and on a shared 2-core box two OpenMP threads stall
    # each other whenever the machine is oversubscribed (docs/model.md has the measurements).
    threads: int = 1
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


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: bfloat16 where supported (CPU, recent GPUs), else float16; None = full precision."""
    if amp not in ("auto", "on", "off"):
        raise ValueError(f"amp must be auto, on or off, got {amp!r}")
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def default_hparams(data: SequenceData) -> dict:
    """SASRec reference settings: dense data (ML-1M-like) maxlen 200 / dropout 0.2, sparse 50 / 0.5."""
    lengths = [len(s) for s in data.sequences.values()] or [0]
    dense = float(np.mean(lengths)) >= 50
    return {"max_len": 200 if dense else 50, "dropout": 0.2 if dense else 0.5}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _training_arrays(split: LeaveOneOut, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    seqs = [s[-(max_len + 1):] for s in split.train.values() if len(s) >= 2]
    x = left_pad([s[:-1] for s in seqs], max_len)
    y = left_pad([s[1:] for s in seqs], max_len)
    return x, y


def epoch_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator, buckets: bool) -> list[np.ndarray]:
    """Row indices of each batch of one epoch.

    Without buckets: a random permutation cut into batches.  With buckets: rows sorted by length
    plus uniform jitter of one unit (so equal lengths mix differently every epoch), cut into
    batches, the batch order shuffled; a batch then spans a narrow range of lengths and its
    padding columns are dropped, which on short-sequence data cuts the encoder's work several-fold.
    """
    n = len(lengths)
    if not buckets:
        perm = rng.permutation(n)
    else:
        perm = np.argsort(lengths + rng.random(n), kind="stable")
    batches = [perm[i:i + batch_size] for i in range(0, n, batch_size)]
    if buckets:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


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


class _Objective:
    """The concrete loss of a run, with its negative sampler and random stream."""

    def __init__(self, kind: str, split: LeaveOneOut, n_items: int, tcfg: TrainConfig, device: torch.device):
        self.kind = kind
        self.gen = torch.Generator().manual_seed(tcfg.seed)
        self.negs = None
        if kind == "sampled":
            counts = item_counts(split.train.values(), n_items)
            self.negs = SharedNegatives(counts, tcfg.n_negatives, tcfg.neg_pop_mix, device)

    def __call__(self, model: InterestNet, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # Columns that are padding in every row change nothing (positions count from the right): drop them.
        width = int((x != 0).sum(1).max().clamp(min=1))
        x, y = x[:, -width:], y[:, -width:]
        table = model.item_table()
        h = model(x, table)
        m = y > 0
        h, tgt = h[m], y[m]
        if self.kind == "ce":
            return full_ce(h, tgt, table, model.score_mask)
        if self.kind == "sampled":
            neg = self.negs.sample(self.gen).to(h.device)
            return sampled_softmax(h, tgt, table, neg, self.negs.log_sq)
        return one_negative_bce(h, tgt, table, self.gen)


def _atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _cpu_state(model: InterestNet) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _base_meta(data: SequenceData, mcfg: ModelConfig, tcfg: TrainConfig, loss: str, device: torch.device,
               amp: torch.dtype | None) -> dict:
    return {
        "version": __version__,
        "model": mcfg.to_dict(),
        "train": asdict(tcfg),
        "loss": loss,
        "amp": str(amp).replace("torch.", "") if amp else None,
        "dataset": data.name,
        "data_hash": data.data_hash(),
        "n_users": len(data.sequences),
        "n_interactions": data.n_interactions,
        "time_range": list(data.time_range) if data.time_range else None,
        "item_ids": data.item_ids,
        "item_features": data.item_features,
        "feature_names": data.feature_names,
        "popularity": popular_items(data.sequences, data.n_items),
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def read_state_config(ckpt_dir: str | Path) -> tuple[ModelConfig, TrainConfig]:
    """Model and training configuration of the run whose last state is in ``ckpt_dir``."""
    path = Path(ckpt_dir) / STATE_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing; expected the training state written by 'train --out'")
    st = torch.load(path, map_location="cpu", weights_only=False)
    return ModelConfig.from_dict(st["meta"]["model"]), TrainConfig(**st["meta"]["train"])


def train_model(data: SequenceData, mcfg: ModelConfig, tcfg: TrainConfig, progress: bool = True,
                log=print, out_dir: str | Path | None = None, resume: bool = False) -> TrainResult:
    """Train ``mcfg`` on ``data`` and return the best model (by validation NDCG@10).

    With ``out_dir`` the best model so far and the last state are written there during
    training; ``resume`` continues from the state in ``out_dir`` (same data and model required).
    """
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    seed_everything(tcfg.seed)
    device = resolve_device(tcfg.device)
    amp = amp_dtype(tcfg.amp, device)
    split = leave_one_out(data.sequences)
    mcfg.n_items = data.n_items
    loss_kind = resolve_loss(tcfg.loss, data.n_items)
    use_feats = data.item_features if mcfg.n_features else None
    model = InterestNet(mcfg, use_feats).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=tcfg.lr, betas=(0.9, 0.98), weight_decay=tcfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    x_all, y_all = _training_arrays(split, mcfg.max_len)
    if len(x_all) == 0:
        raise ValueError("no user has at least 2 training items; nothing to train on")
    valid_set = build_eval_set(split, data.n_items, "valid", tcfg.seed, tcfg.max_eval_users)
    objective = _Objective(loss_kind, split, data.n_items, tcfg, device)
    rng = np.random.default_rng(tcfg.seed)
    meta = _base_meta(data, mcfg, tcfg, loss_kind, device, amp)
    out = Path(out_dir) if out_dir is not None else None
    best = {"ndcg": -1.0, "epoch": 0, "state": None}
    history: list[dict] = []
    epoch_seconds: list[float] = []  # training only, without validation
    bad, start_epoch, elapsed_before = 0, 0, 0.0
    if resume:
        if out is None or not (out / STATE_FILE).exists():
            raise FileNotFoundError(f"{out / STATE_FILE if out else STATE_FILE}: missing; nothing to resume")
        st = torch.load(out / STATE_FILE, map_location="cpu", weights_only=False)
        if st["meta"]["data_hash"] != meta["data_hash"]:
            raise ValueError(f"{out / STATE_FILE}: saved for other data (data_hash differs)")
        if st["meta"]["model"] != meta["model"]:
            raise ValueError(f"{out / STATE_FILE}: saved for another model configuration {st['meta']['model']}")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        rng.bit_generator.state = st["numpy_rng"]
        objective.gen.set_state(st["loss_rng"])
        torch.set_rng_state(st["torch_rng"])
        if device.type == "cuda" and st.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(st["cuda_rng"])
        random.setstate(st["python_rng"])
        best, history, bad, epoch_seconds = st["best"], st["history"], st["bad"], st["epoch_seconds"]
        start_epoch, elapsed_before = st["epoch"], st["elapsed"]
        log(f"resuming from {out} after epoch {start_epoch} (best val ndcg@10 {best['ndcg']:.4f} @ {best['epoch']})")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter() - elapsed_before
    n_batches = (len(x_all) + tcfg.batch_size - 1) // tcfg.batch_size
    lengths = (x_all != 0).sum(1)
    stopped = bad >= tcfg.patience
    with EpochReporter(mcfg.encoder, tcfg.epochs, start_epoch, enabled=progress, log=log) as rep:
        for epoch in range(start_epoch + 1, tcfg.epochs + 1):
            if stopped:
                break
            te = time.perf_counter()
            model.train()
            total = 0.0
            for idx in epoch_batches(lengths, tcfg.batch_size, rng, tcfg.length_buckets):
                x = torch.from_numpy(x_all[idx]).to(device)
                y = torch.from_numpy(y_all[idx]).to(device)
                with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                    loss = objective(model, x, y)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                total += float(loss.detach())
            mean_loss = total / n_batches
            epoch_seconds.append(round(time.perf_counter() - te, 2))
            valid = None
            note = ""
            if epoch % tcfg.eval_every == 0 or epoch == tcfg.epochs:
                m = evaluate_scorer(model_scorer(model, device), valid_set, data.n_items)
                valid = m["ndcg@10"]
                history.append({"epoch": epoch, "loss": mean_loss, "valid_ndcg@10": m["ndcg@10"],
                                "valid_hr@10": m["hr@10"], "seconds": round(time.perf_counter() - t0, 1)})
                if valid > best["ndcg"]:
                    best = {"ndcg": valid, "epoch": epoch, "state": _cpu_state(model)}
                    bad = 0
                    if out is not None:
                        _save_best(out, best["state"], mcfg, {**meta, "metrics": {"valid_ndcg@10": valid},
                                                              "best_epoch": epoch, "epochs_run": epoch,
                                                              "history": history, "complete": False})
                else:
                    bad += 1
                if bad >= tcfg.patience:
                    stopped = True
                    note = "early stop"
            rep.epoch(epoch, mean_loss, time.perf_counter() - te, valid, best["ndcg"], best["epoch"], note)
            if out is not None:
                _atomic_torch_save({
                    "meta": meta, "epoch": epoch, "elapsed": time.perf_counter() - t0,
                    "model": _cpu_state(model), "optimizer": opt.state_dict(), "best": best, "history": history,
                    "epoch_seconds": epoch_seconds,
                    "bad": bad, "numpy_rng": rng.bit_generator.state, "loss_rng": objective.gen.get_state(),
                    "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
                    "cuda_rng": torch.cuda.get_rng_state() if device.type == "cuda" else None,
                }, out / STATE_FILE)
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    train_seconds = time.perf_counter() - t0
    model.eval()
    test_set = build_eval_set(split, data.n_items, "test", tcfg.seed, tcfg.max_eval_users)
    test = evaluate_scorer(model_scorer(model, device), test_set, data.n_items, item_features=data.item_features)
    meta.update({
        "metrics": {"valid_ndcg@10": best["ndcg"], **test},
        "best_epoch": best["epoch"],
        "epochs_run": history[-1]["epoch"] if history else 0,
        "history": history,
        "epoch_seconds": epoch_seconds,
        "train_seconds": round(train_seconds, 2),
        "complete": True,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    return TrainResult(model, split, meta)


def _save_best(out: Path, state: dict, mcfg: ModelConfig, meta: dict) -> None:
    _atomic_torch_save({"state_dict": state, "config": mcfg.to_dict()}, out / CHECKPOINT_FILE)
    _atomic_write_text(out / META_FILE, json.dumps(meta, indent=1))


def save_checkpoint(result: TrainResult, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _save_best(out, _cpu_state(result.model), result.model.cfg, result.meta)
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
