"""Build the small demo model used by the default pipeline and CI (no downloads).

Trains a small SASRec on the project's synthetic events and exports it (ONNX + vocab +
model card) to ``out_dir``, by default :data:`DEMO_DIR`: ``model_export/demo/``, the copy
shipped in the package that the job reads (``model.path``'s default), so a rebuild is what
the next ``recstream run`` scores with. Takes well under two minutes on two CPU cores.
"""

from __future__ import annotations

from pathlib import Path

from model_export.data import sequences_from_events
from model_export.encoders import ModelConfig
from model_export.synthetic import synthetic_events

DEMO_DIR = Path(__file__).resolve().parent / "demo"  # == recstream.config.models.packaged_demo_model()


def build_demo_model(out_dir: str | Path = DEMO_DIR, seed: int = 7, n_users: int = 1000, n_items: int = 300,
                     n_events: int = 30000, epochs: int = 12, max_len: int = 50, dim: int = 32, top_k: int = 20,
                     checkpoint_dir: str | Path | None = None, progress: bool = True, log=print) -> dict:
    """Train + export the demo model; returns the model card."""
    from model_export.export import export_model
    from model_export.train import TrainConfig, save_checkpoint, train_model

    data = sequences_from_events(synthetic_events(seed=seed, n_users=n_users, n_items=n_items, n_events=n_events),
                                 name="synthetic-demo")
    mcfg = ModelConfig(encoder="sasrec", max_len=max_len, dim=dim, n_blocks=2, n_heads=1, dropout=0.2,
                       n_features=len(data.feature_names))
    tcfg = TrainConfig(epochs=epochs, eval_every=3, patience=2, seed=seed, max_eval_users=2000)
    res = train_model(data, mcfg, tcfg, progress=progress, log=log)
    if checkpoint_dir is not None:
        save_checkpoint(res, checkpoint_dir)
    card = export_model(res.model, res.meta, out_dir, top_k=min(top_k, data.n_items - 2), log=log)
    log(f"demo model written to {out_dir} (test hr@10 {res.meta['metrics']['hr@10']:.3f})")
    return card
