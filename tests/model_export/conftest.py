"""Shared fixtures for model_export tests: tiny seeded data and a tiny exported model."""

from __future__ import annotations

import pytest

from model_export.data import sequences_from_events
from model_export.synthetic import fallback_events


@pytest.fixture(scope="session")
def tiny_data():
    return sequences_from_events(fallback_events(seed=3, n_users=300, n_items=400, n_events=6000), name="tiny")


@pytest.fixture(scope="session")
def tiny_trained(tiny_data):
    torch = pytest.importorskip("torch")
    from model_export.encoders import ModelConfig
    from model_export.train import TrainConfig, train_model

    torch.set_num_threads(2)
    mcfg = ModelConfig(encoder="sasrec", max_len=12, dim=16, n_blocks=1, dropout=0.1,
                       n_features=len(tiny_data.feature_names))
    tcfg = TrainConfig(epochs=5, eval_every=1, patience=5, seed=1, batch_size=32, lr=1e-2)
    return train_model(tiny_data, mcfg, tcfg, progress=False)


@pytest.fixture(scope="session")
def tiny_export(tiny_trained, tmp_path_factory):
    from model_export.export import export_model

    out = tmp_path_factory.mktemp("export")
    card = export_model(tiny_trained.model, tiny_trained.meta, out, top_k=10, int8=True, log=lambda *a: None)
    return out, card
