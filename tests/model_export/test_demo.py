"""The demo model builder trains on the project's synthetic data and exports a loadable model."""

import pytest

pytest.importorskip("torch")


def test_build_demo_model_tiny(tmp_path):
    from model_export.demo import build_demo_model
    from model_export.runtime import InterestModel

    card = build_demo_model(tmp_path / "demo", seed=1, n_users=120, n_items=150, n_events=2500, epochs=1,
                            dim=8, max_len=10, top_k=5, progress=False, log=lambda *a: None)
    m = InterestModel.load(tmp_path / "demo", providers=["CPUExecutionProvider"])
    assert (m.max_len, m.top_k, m.dim) == (10, 5, 8) and card["version"] == m.version
    _, _, ids = m.recommend([m.popular_item_ids[:3]])
    assert ids.shape == (1, 5)
