"""Shared model pieces: config, item embedding table (id + content), scoring head.

An item's vector is its id embedding plus the mean of its category embeddings
(when content features are given), so a cold item with known categories still
gets a meaningful vector.  The same table embeds the input sequence and scores
candidate items (weight tying, as in SASRec).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch import nn

from model_export.data import N_RESERVED, PAD_INDEX

ENCODERS: dict[str, Callable[["ModelConfig"], nn.Module]] = {}


def register_encoder(name: str):
    """Decorator: register an encoder factory ``cfg -> nn.Module`` under ``name``.

    An encoder maps ``(x [B, L, D] embedded items, pad [B, L] bool)`` to hidden
    states ``[B, L, D]``; position ``L-1`` (most recent item) is the user state.
    """

    def deco(factory):
        ENCODERS[name] = factory
        return factory

    return deco


@dataclass
class ModelConfig:
    encoder: str = "sasrec"
    n_items: int = 0
    max_len: int = 50
    dim: int = 50
    n_blocks: int = 2
    n_heads: int = 1
    dropout: float = 0.2
    n_features: int = 0  # number of content-feature ids (0 = no content features)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**d)


class InterestNet(nn.Module):
    """Item table + sequence encoder; ``forward`` returns hidden states ``[B, L, D]``."""

    def __init__(self, cfg: ModelConfig, item_features: list[list[int]] | None = None):
        super().__init__()
        if cfg.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {cfg.encoder!r}; known: {sorted(ENCODERS)}")
        self.cfg = cfg
        self.item_emb = nn.Embedding(cfg.n_items, cfg.dim, padding_idx=PAD_INDEX)
        nn.init.normal_(self.item_emb.weight, std=cfg.dim ** -0.5)
        with torch.no_grad():
            self.item_emb.weight[PAD_INDEX].zero_()
        self.feat_emb = None
        if cfg.n_features and item_features is not None:
            width = max(1, max((len(f) for f in item_features), default=1))
            feats = torch.zeros(cfg.n_items, width, dtype=torch.long)
            for i, f in enumerate(item_features[: cfg.n_items]):
                if f:
                    feats[i, : len(f)] = torch.tensor(f, dtype=torch.long)
            self.register_buffer("item_feats", feats, persistent=True)
            self.feat_emb = nn.Embedding(cfg.n_features, cfg.dim, padding_idx=0)
            nn.init.normal_(self.feat_emb.weight, std=cfg.dim ** -0.5)
            with torch.no_grad():
                self.feat_emb.weight[0].zero_()
        self.encoder = ENCODERS[cfg.encoder](cfg)
        mask = torch.zeros(cfg.n_items)
        mask[:N_RESERVED] = float("-inf")
        self.register_buffer("score_mask", mask, persistent=False)

    def item_table(self) -> torch.Tensor:
        """``[n_items, D]`` item vectors (row 0, padding, is all zeros)."""
        table = self.item_emb.weight
        if self.feat_emb is not None:
            f = self.feat_emb(self.item_feats)  # [n, F, D]
            cnt = (self.item_feats > 0).sum(1, keepdim=True).clamp(min=1).to(table.dtype)
            table = table + f.sum(1) / cnt
        return table

    def forward(self, item_seq: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        table = self.item_table() if table is None else table
        pad = item_seq == PAD_INDEX
        x = nn.functional.embedding(item_seq, table)
        return self.encoder(x, pad)

    def user_embedding(self, item_seq: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """Last-position state ``[B, D]``."""
        return self.forward(item_seq, table)[:, -1, :]

    def scores(self, user: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, n_items]`` dot-product scores, reserved indices set to ``-inf``."""
        table = self.item_table() if table is None else table
        return user @ table.T + self.score_mask
