"""The item embeddings file: what the catalogue step writes and the folds read.

A directory with

* ``embeddings.npy``: float32 ``[n_items, dim]``, one unit-length row per item;
* ``item_ids.json``: the item ids in row order;
* ``embeddings.json``: a small card (``dim``, ``n_items``, the encoder card it came from).

The stream (``FoldUserState.open``, the item fold) and the backfill read the same
file, so both see bit-identical vectors (onnxruntime's own output varies in the last
bits with batch composition; a stored file does not). The matrix is memory-mapped
read-only: several operators in one TaskManager share the pages.

No torch, no onnxruntime here: numpy only.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

MATRIX_FILE, IDS_FILE, CARD_FILE = "embeddings.npy", "item_ids.json", "embeddings.json"


class EmbeddingsFileError(ValueError):
    """The embeddings directory is missing a file or its parts disagree."""


def write_embeddings(out_dir: str | Path, item_ids: Sequence[str], matrix: np.ndarray, card: dict | None = None) -> Path:
    """Write ``matrix`` (rows in ``item_ids`` order) to ``out_dir``; returns the directory."""
    out = Path(out_dir)
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(item_ids):
        raise EmbeddingsFileError(f"matrix shape {matrix.shape} does not fit {len(item_ids)} item ids")
    if len(set(item_ids)) != len(item_ids):
        raise EmbeddingsFileError("duplicate item ids")
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / MATRIX_FILE, matrix)
    (out / IDS_FILE).write_text(json.dumps(list(item_ids)))
    meta = {"dim": int(matrix.shape[1]), "n_items": int(matrix.shape[0]), **(card or {})}
    (out / CARD_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out


class EmbeddingTable:
    """``item_id -> float32 vector`` lookups over an embeddings directory (``.get`` like a dict)."""

    __slots__ = ("path", "matrix", "index", "dim")

    def __init__(self, path: Path, matrix: np.ndarray, ids: list[str]) -> None:
        self.path = path
        self.matrix = matrix
        self.index = {item: row for row, item in enumerate(ids)}
        self.dim = int(matrix.shape[1])

    @classmethod
    def load(cls, path: str | Path, mmap: bool = True) -> "EmbeddingTable":
        d = Path(path)
        for f in (d / MATRIX_FILE, d / IDS_FILE):
            if not f.exists():
                raise EmbeddingsFileError(f"{f}: missing; write it with `recstream catalogue embed --out {d}`")
        matrix = np.load(d / MATRIX_FILE, mmap_mode="r" if mmap else None)
        ids = json.loads((d / IDS_FILE).read_text())
        if matrix.dtype != np.float32 or matrix.ndim != 2 or matrix.shape[0] != len(ids):
            raise EmbeddingsFileError(f"{d}: {MATRIX_FILE} {matrix.dtype}{list(matrix.shape)} does not fit "
                                      f"{len(ids)} ids in {IDS_FILE}")
        return cls(d, matrix, ids)

    def get(self, item_id: str, default=None):
        row = self.index.get(item_id)
        return default if row is None else np.asarray(self.matrix[row])

    def __contains__(self, item_id: str) -> bool:
        return item_id in self.index

    def __len__(self) -> int:
        return len(self.index)
