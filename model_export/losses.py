"""Training losses of the interest model and the rule that picks one.

* ``ce``: full softmax cross-entropy over the whole catalogue at every
  non-padding position ("SASRec + CE", Klenitskiy & Vasilev, RecSys 2023).
  Its cost grows with the catalogue: ``positions x items`` logits per batch.
* ``sampled``: sampled softmax with log-Q correction.  One set of negatives is
  drawn per batch and shared by every position, from a mixture of the item
  popularity in the training data and the uniform distribution; each logit is
  corrected by ``log(S * q(item))`` (Bengio & Senecal 2008; Yi et al., RecSys
  2019) so the loss estimates the full softmax.  Negatives equal to a position's
  own target are masked out (accidental hits).  Cost: ``positions x S``.
* ``bce``: the SASRec paper's binary cross-entropy with one uniform negative
  per position.

``auto`` (the default) resolves to ``sampled`` when the catalogue has more than
:data:`SAMPLED_ABOVE_ITEMS` items and to ``ce`` otherwise (see docs/model.md).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model_export.data import N_RESERVED

LOSSES = ("auto", "ce", "sampled", "bce")
SAMPLED_ABOVE_ITEMS = 5_000


def resolve_loss(kind: str, n_items: int) -> str:
    """The concrete loss for ``kind`` on a vocabulary of ``n_items`` (reserved indices included)."""
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; expected one of {', '.join(LOSSES)}")
    if kind == "auto":
        return "sampled" if n_items - N_RESERVED > SAMPLED_ABOVE_ITEMS else "ce"
    return kind


class SharedNegatives:
    """Draws ``n`` negatives per batch from ``pop_mix * popularity + (1 - pop_mix) * uniform``."""

    def __init__(self, counts: np.ndarray, n: int, pop_mix: float, device: torch.device):
        if n < 1:
            raise ValueError(f"number of sampled negatives must be >= 1, got {n}")
        if not 0.0 <= pop_mix <= 1.0:
            raise ValueError(f"pop_mix must be in [0, 1], got {pop_mix}")
        counts = np.asarray(counts, dtype=np.float64).copy()
        counts[:N_RESERVED] = 0.0
        n_real = len(counts) - N_RESERVED
        uniform = np.zeros_like(counts)
        uniform[N_RESERVED:] = 1.0 / n_real
        pop = counts / counts.sum() if counts.sum() > 0 else uniform
        q = pop_mix * pop + (1.0 - pop_mix) * uniform
        self.n = n
        self.q = torch.tensor(q, dtype=torch.float32)  # sampling stays on CPU for a device-independent stream
        self.log_sq = torch.log(torch.tensor(q * n, dtype=torch.float32).clamp(min=1e-30)).to(device)

    def sample(self, gen: torch.Generator) -> torch.Tensor:
        return torch.multinomial(self.q, self.n, replacement=True, generator=gen)


def item_counts(sequences, n_items: int) -> np.ndarray:
    counts = np.zeros(n_items, dtype=np.float64)
    for seq in sequences:
        np.add.at(counts, seq, 1.0)
    return counts


def full_ce(h: torch.Tensor, tgt: torch.Tensor, table: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(h @ table.T + mask, tgt)


def sampled_softmax(h: torch.Tensor, tgt: torch.Tensor, table: torch.Tensor, neg: torch.Tensor,
                    log_sq: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the target against shared negatives ``neg``, logits corrected by ``log_sq``."""
    pos = (h * table[tgt]).sum(-1, keepdim=True) - log_sq[tgt].unsqueeze(1)
    negl = h @ table[neg].T - log_sq[neg]
    negl = negl.masked_fill(neg.unsqueeze(0) == tgt.unsqueeze(1), float("-inf"))
    logits = torch.cat([pos, negl], dim=1).float()
    return nn.functional.cross_entropy(logits, torch.zeros(len(tgt), dtype=torch.long, device=h.device))


def one_negative_bce(h: torch.Tensor, tgt: torch.Tensor, table: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    neg = torch.randint(N_RESERVED, table.shape[0], tgt.shape, generator=gen).to(tgt.device)
    pos_l = (h * table[tgt]).sum(-1).float()
    neg_l = (h * table[neg]).sum(-1).float()
    bce = nn.functional.binary_cross_entropy_with_logits
    return bce(pos_l, torch.ones_like(pos_l)) + bce(neg_l, torch.zeros_like(neg_l))
