"""Losses: the auto rule, sampled softmax against the full softmax, the negative sampler."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from model_export.losses import (SAMPLED_ABOVE_ITEMS, SharedNegatives, full_ce, resolve_loss,  # noqa: E402
                                 sampled_softmax)


def test_auto_rule_by_catalogue_size():
    assert resolve_loss("auto", SAMPLED_ABOVE_ITEMS + 2) == "ce"
    assert resolve_loss("auto", SAMPLED_ABOVE_ITEMS + 3) == "sampled"
    assert resolve_loss("ce", 10**6) == "ce" and resolve_loss("sampled", 10) == "sampled"
    with pytest.raises(ValueError, match="unknown loss 'x'"):
        resolve_loss("x", 10)


def test_sampled_softmax_over_every_item_equals_full_ce():
    torch.manual_seed(0)
    n_items, d = 12, 4
    table = torch.randn(n_items, d)
    table[0] = 0
    h, tgt = torch.randn(5, d), torch.tensor([2, 3, 11, 5, 2])
    mask = torch.zeros(n_items)
    mask[:2] = float("-inf")
    uniform = SharedNegatives(np.ones(n_items), n=n_items - 2, pop_mix=0.0, device=torch.device("cpu"))
    every_item = torch.arange(2, n_items)  # the target among them is masked as an accidental hit
    got = sampled_softmax(h, tgt, table, every_item, uniform.log_sq)
    assert got.item() == pytest.approx(full_ce(h, tgt, table, mask).item(), rel=1e-5)


def test_negative_sampler_mixture_and_log_q():
    counts = np.array([0, 0, 30, 10, 0, 0], dtype=float)
    s = SharedNegatives(counts, n=4, pop_mix=0.5, device=torch.device("cpu"))
    q = s.q.numpy()
    assert q[:2].sum() == 0 and q.sum() == pytest.approx(1.0)
    assert q[2] == pytest.approx(0.5 * 0.75 + 0.5 / 4) and q[4] == pytest.approx(0.5 / 4)
    assert s.log_sq[2].item() == pytest.approx(np.log(4 * q[2]), rel=1e-6)
    draws = s.sample(torch.Generator().manual_seed(0))
    assert draws.shape == (4,) and bool((draws >= 2).all())
    with pytest.raises(ValueError, match="pop_mix"):
        SharedNegatives(counts, 4, 1.5, torch.device("cpu"))
