"""SASRec-style causal self-attention encoder (Kang & McAuley, ICDM 2018).

Pre-LayerNorm transformer blocks over the left-padded sequence with learned
position embeddings (slot ``L-1`` is always the most recent item).  A position
may attend to itself and to earlier non-padding positions, so every row of the
attention matrix has at least one finite entry (empty sequences stay finite).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from model_export.encoders.base import ModelConfig, register_encoder


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int, dropout: float):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim {dim} must be divisible by n_heads {n_heads}")
        self.h = n_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, l, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        dh = d // self.h
        q = q.reshape(b, l, self.h, dh).transpose(1, 2)
        k = k.reshape(b, l, self.h, dh).transpose(1, 2)
        v = v.reshape(b, l, self.h, dh).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(dh)) + bias
        att = self.drop(torch.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).reshape(b, l, d)
        return self.out(y)


class Block(nn.Module):
    def __init__(self, dim: int, n_heads: int, dropout: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, n_heads, dropout)
        self.ln2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, bias, keep):
        x = x + self.drop(self.attn(self.ln1(x), bias))
        x = x + self.drop(self.ffn(self.ln2(x)))
        return x * keep


class SASRecEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.scale = math.sqrt(cfg.dim)
        self.pos = nn.Embedding(cfg.max_len, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.n_heads, cfg.dropout) for _ in range(cfg.n_blocks))
        self.ln = nn.LayerNorm(cfg.dim)
        causal = torch.tril(torch.ones(cfg.max_len, cfg.max_len, dtype=torch.bool))
        self.register_buffer("causal", causal, persistent=False)
        self.register_buffer("eye", torch.eye(cfg.max_len, dtype=torch.bool), persistent=False)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        l = x.shape[1]
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        pos = self.pos.weight[-l:].unsqueeze(0)
        x = self.drop(x * self.scale + pos) * keep
        # allowed[b, i, j]: j <= i and (j is an item or j == i)
        allowed = self.causal[:l, :l] & (~pad.unsqueeze(1) | self.eye[:l, :l])
        bias = torch.zeros_like(allowed, dtype=x.dtype).masked_fill(~allowed, -1e9).unsqueeze(1)
        for blk in self.blocks:
            x = blk(x, bias, keep)
        return self.ln(x)


@register_encoder("sasrec")
def build(cfg: ModelConfig) -> nn.Module:
    return SASRecEncoder(cfg)
