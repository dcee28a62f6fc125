"""GRU4Rec-style encoder (Hidasi et al., 2016): a single GRU over the sequence.

Used as the recurrent baseline; selected with ``encoder="gru"``.
"""

from __future__ import annotations

import torch
from torch import nn

from model_export.encoders.base import ModelConfig, register_encoder


class GRUEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.drop = nn.Dropout(cfg.dropout)
        self.gru = nn.GRU(cfg.dim, cfg.dim, num_layers=1, batch_first=True)
        self.dim = cfg.dim

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        h0 = torch.zeros(1, x.shape[0], self.dim, dtype=x.dtype, device=x.device)
        out, _ = self.gru(self.drop(x), h0)
        return out


@register_encoder("gru")
def build(cfg: ModelConfig) -> nn.Module:
    return GRUEncoder(cfg)
