"""Typer commands for the interest model: train, evaluate, export, demo.

The functions are plain Typer commands so the main ``recstream`` CLI can
register them; ``python -m model_export.cli`` runs them standalone.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Interest model: train, evaluate, export to ONNX.", no_args_is_help=True)


class DataKind(str, Enum):
    synthetic = "synthetic"
    ml100k = "ml-100k"
    sasrec = "sasrec"
    s3rec = "s3rec"


class Encoder(str, Enum):
    sasrec = "sasrec"
    gru = "gru"


class Loss(str, Enum):
    auto = "auto"
    ce = "ce"
    sampled = "sampled"
    bce = "bce"


def _load(data: DataKind, path: Optional[Path], seed: int, n_users: int, n_items: int, n_events: int):
    from model_export.data import load_dataset

    if data == DataKind.synthetic:
        return load_dataset("synthetic", seed=seed, n_users=n_users, n_items=n_items, n_events=n_events)
    try:
        return load_dataset(data.value, path)
    except (FileNotFoundError, ValueError) as e:
        raise typer.BadParameter(str(e), param_hint="--path") from e


def _configs(d, model: str, max_len: int, dim: int, blocks: int, heads: int, dropout: float, content: bool,
             epochs: int, seed: int, device: str, loss: str, lr: float, batch_size: int, eval_every: int,
             patience: int, negatives: int = 1024, pop_mix: float = 0.5, amp: str = "auto", buckets: bool = True,
             threads: int = 1):
    from model_export.encoders import ModelConfig
    from model_export.train import TrainConfig, default_hparams

    hp = default_hparams(d)
    mcfg = ModelConfig(encoder=model, max_len=max_len or hp["max_len"], dim=dim, n_blocks=blocks, n_heads=heads,
                       dropout=hp["dropout"] if dropout < 0 else dropout,
                       n_features=len(d.feature_names) if content and d.item_features else 0)
    tcfg = TrainConfig(epochs=epochs, seed=seed, device=device, loss=loss, lr=lr, batch_size=batch_size,
                       eval_every=eval_every, patience=patience, n_negatives=negatives, neg_pop_mix=pop_mix, amp=amp,
                       length_buckets=buckets, threads=threads)
    return mcfg, tcfg


# Shared option declarations
DATA = typer.Option(DataKind.synthetic, "--data",
                    help="synthetic, ml-100k (directory), sasrec ('user item' lines; S3-Rec lines detected) "
                         "or s3rec ('user item item ...' lines)")
PATH = typer.Option(None, "--path", help="data path (ml-100k directory, SASRec- or S3-Rec-format file)")
MAX_LEN = typer.Option(0, "--max-len", help="sequence length N (0 = auto: 200 dense / 50 sparse)")
DIM = typer.Option(50, "--dim", help="embedding size")
EPOCHS = typer.Option(200, "--epochs", help="maximum epochs (early stopping on validation NDCG@10)")
SEED = typer.Option(42, "--seed")
DEVICE = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda")
BLOCKS = typer.Option(2, "--blocks")
HEADS = typer.Option(1, "--heads")
DROPOUT = typer.Option(-1.0, "--dropout", help="-1 = auto: 0.2 dense / 0.5 sparse")
CONTENT = typer.Option(True, "--content/--no-content", help="add category/genre embeddings to item vectors")
LOSS = typer.Option(Loss.auto, "--loss",
                    help="auto (sampled above 5,000 items, else ce), ce (full softmax), sampled (sampled softmax "
                         "with log-Q correction, shared negatives) or bce (paper: one sampled negative)")
NEGATIVES = typer.Option(1024, "--negatives", help="sampled loss: negatives shared by each batch")
POP_MIX = typer.Option(0.5, "--pop-mix", help="sampled loss: share of popularity sampling (rest uniform)")
AMP = typer.Option("auto", "--amp", help="mixed precision: auto (on for CUDA), on, off")
THREADS = typer.Option(1, "--threads", help="torch intra-op threads (0 = torch's default)")
BUCKETS = typer.Option(True, "--length-buckets/--no-length-buckets",
                       help="batch sequences of similar length together (faster on short sequences)")
LR = typer.Option(1e-3, "--lr")
BATCH = typer.Option(128, "--batch-size")
EVAL_EVERY = typer.Option(5, "--eval-every", help="epochs between validation evaluations")
PATIENCE = typer.Option(4, "--patience", help="evaluations without improvement before stopping")
N_USERS = typer.Option(2000, "--n-users", help="synthetic data: users")
N_ITEMS = typer.Option(500, "--n-items", help="synthetic data: items")
N_EVENTS = typer.Option(40000, "--n-events", help="synthetic data: events")


@app.command()
def train(
    data: DataKind = DATA, path: Optional[Path] = PATH,
    model: Encoder = typer.Option(Encoder.sasrec, "--model", help="sequence encoder"),
    max_len: int = MAX_LEN, dim: int = DIM, epochs: int = EPOCHS, seed: int = SEED,
    out: Path = typer.Option(Path("models/checkpoint"), "--out", help="checkpoint directory"),
    device: str = DEVICE, blocks: int = BLOCKS, heads: int = HEADS, dropout: float = DROPOUT,
    content: bool = CONTENT, loss: Loss = LOSS, lr: float = LR, batch_size: int = BATCH,
    eval_every: int = EVAL_EVERY, patience: int = PATIENCE,
    negatives: int = NEGATIVES, pop_mix: float = POP_MIX, amp: str = AMP, length_buckets: bool = BUCKETS,
    threads: int = THREADS, resume: Optional[Path] = typer.Option(None, "--resume", help="continue the run whose state is in this "
                                          "directory (its settings are used; --out is this directory)"),
    n_users: int = N_USERS, n_items: int = N_ITEMS, n_events: int = N_EVENTS,
) -> None:
    """Train an interest model, saving the best model so far and the last state to --out as it goes."""
    from model_export.losses import resolve_loss
    from model_export.train import read_state_config, save_checkpoint, train_model

    d = _load(data, path, seed, n_users, n_items, n_events)
    if resume is not None:
        try:
            mcfg, tcfg = read_state_config(resume)
        except FileNotFoundError as e:
            raise typer.BadParameter(str(e), param_hint="--resume") from e
        if epochs != EPOCHS.default:
            tcfg.epochs = epochs
        out = resume
    else:
        mcfg, tcfg = _configs(d, model.value, max_len, dim, blocks, heads, dropout, content, epochs, seed, device,
                              loss.value, lr, batch_size, eval_every, patience, negatives, pop_mix, amp,
                              length_buckets, threads)
    kind = resolve_loss(tcfg.loss, d.n_items)
    detail = f" ({tcfg.n_negatives} shared negatives, pop-mix {tcfg.neg_pop_mix})" if kind == "sampled" else ""
    typer.echo(f"{d.name}: {len(d.sequences)} users, {d.n_items - 2} items, {d.n_interactions} interactions; "
               f"model {mcfg.encoder} N={mcfg.max_len} D={mcfg.dim} dropout={mcfg.dropout}; loss {kind}{detail}")
    try:
        res = train_model(d, mcfg, tcfg, progress=True, log=typer.echo, out_dir=out, resume=resume is not None)
    except ValueError as e:
        if resume is None:
            raise
        raise typer.BadParameter(str(e), param_hint="--resume") from e
    save_checkpoint(res, out)
    m = res.meta["metrics"]
    typer.echo(f"saved {out} | best epoch {res.meta['best_epoch']} | {res.meta['train_seconds']:.0f}s | "
               f"test HR@10 {m['hr@10']:.4f} NDCG@10 {m['ndcg@10']:.4f} | "
               f"full HR@10 {m['full_hr@10']:.4f} NDCG@10 {m['full_ndcg@10']:.4f}")


@app.command()
def evaluate(
    data: DataKind = DATA, path: Optional[Path] = PATH,
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="evaluate this checkpoint instead of training"),
    max_len: int = MAX_LEN, dim: int = DIM, epochs: int = EPOCHS, seed: int = SEED, device: str = DEVICE,
    blocks: int = BLOCKS, heads: int = HEADS, dropout: float = DROPOUT, content: bool = CONTENT,
    loss: Loss = LOSS, lr: float = LR, batch_size: int = BATCH, eval_every: int = EVAL_EVERY,
    patience: int = PATIENCE, negatives: int = NEGATIVES, pop_mix: float = POP_MIX, amp: str = AMP,
    gru: Optional[bool] = typer.Option(None, "--gru/--no-gru",
                                       help="train the GRU baseline (default: yes, except with --checkpoint)"),
    onnx: Optional[Path] = typer.Option(None, "--onnx", help="also evaluate this export directory's ONNX "
                                        "models (FP32 and any FP16/INT8) with the same protocol"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the results as JSON here"),
    eval_negatives: int = typer.Option(100, "--eval-negatives", min=1,
                                       help="test: sampled negatives per user (the S3-Rec code uses 99)"),
    eval_users: Optional[int] = typer.Option(None, "--eval-users", min=0,
                                             help="test: users evaluated, a seeded sample (default: as in "
                                                  "training's evaluation, 10,000; 0 = all, as the S3-Rec code)"),
    n_users: int = N_USERS, n_items: int = N_ITEMS, n_events: int = N_EVENTS,
) -> None:
    """SASRec protocol on a data set: HR@10/NDCG@10 (sampled and full) for the model and baselines."""
    import sys

    from rich.console import Console

    from model_export.benchmark import results_table, run_benchmark
    from model_export.machine import machine_info

    d = _load(data, path, seed, n_users, n_items, n_events)
    mcfg, tcfg = _configs(d, "sasrec", max_len, dim, blocks, heads, dropout, content, epochs, seed, device,
                          loss.value, lr, batch_size, eval_every, patience, negatives, pop_mix, amp)
    with_gru = (checkpoint is None) if gru is None else gru
    try:
        res = run_benchmark(d, mcfg, tcfg, checkpoint=str(checkpoint) if checkpoint else None, with_gru=with_gru,
                            onnx_dir=str(onnx) if onnx else None, log=typer.echo,
                            eval_negatives=eval_negatives, eval_users=eval_users)
    except (FileNotFoundError, ValueError) as e:
        raise typer.BadParameter(str(e), param_hint="--checkpoint / --onnx") from e
    res["machine"] = machine_info()
    # Off a terminal rich would wrap the table at 80 columns; logs and pipes get it whole.
    Console(width=None if sys.stdout.isatty() else 200).print(results_table(res))
    m = res["model"]
    typer.echo(f"HR@10 {m['hr@10']:.4f}  NDCG@10 {m['ndcg@10']:.4f}  "
               f"full_HR@10 {m['full_hr@10']:.4f}  full_NDCG@10 {m['full_ndcg@10']:.4f}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(res, indent=1))
        typer.echo(f"wrote {json_out}")


@app.command()
def export(
    checkpoint: Path = typer.Option(Path("models/checkpoint"), "--checkpoint", help="directory written by train"),
    out: Path = typer.Option(Path("models/export"), "--out", help="export directory"),
    top_k: int = typer.Option(50, "--top-k", help="K of the in-graph TopK"),
    fp16: bool = typer.Option(False, "--fp16", help="also write model.fp16.onnx (for GPU) and measure it"),
    int8: bool = typer.Option(False, "--int8", help="also write a dynamic INT8 model.int8.onnx and measure it"),
    data: Optional[DataKind] = typer.Option(None, "--data", help="data set the checkpoint was trained on: the "
                                            "PyTorch model and every ONNX variant are evaluated on its test split"),
    path: Optional[Path] = PATH, seed: int = SEED,
) -> None:
    """Export a checkpoint to ONNX (opset 17) with a PyTorch/ONNX Runtime parity check."""
    from model_export.export import export_model
    from model_export.train import load_checkpoint

    try:
        model, meta = load_checkpoint(checkpoint)
    except (FileNotFoundError, ValueError) as e:
        raise typer.BadParameter(str(e), param_hint="--checkpoint") from e
    d = None
    if data is not None:
        d = _load(data, path, seed, 2000, 500, 40000)
        if d.item_ids != meta["item_ids"]:
            raise typer.BadParameter("data vocabulary differs from the checkpoint's", param_hint="--data")
    card = export_model(model, meta, out, top_k=top_k, fp16=fp16, int8=int8, log=typer.echo)
    if d is not None:
        import sys

        from rich.console import Console

        from model_export.export import CARD_FILE
        from model_export.onnx_eval import evaluate_checkpoint_and_export, evaluation_table

        ev = evaluate_checkpoint_and_export(model, out, d, seed)
        card["evaluation"] = ev
        (out / CARD_FILE).write_text(json.dumps(card, indent=1))
        Console(width=None if sys.stdout.isatty() else 200).print(evaluation_table(ev, d.name))
    typer.echo(f"exported {card['encoder']} N={card['max_len']} D={card['dim']} K={card['top_k']} to {out}")


@app.command()
def demo(out: Path = typer.Option(Path("models/demo"), "--out", help="export directory")) -> None:
    """Train the small synthetic demo model and export it (used by the default pipeline and CI)."""
    from model_export.demo import build_demo_model

    build_demo_model(out, log=typer.echo)


if __name__ == "__main__":
    app()
