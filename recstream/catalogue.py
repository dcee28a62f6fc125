"""The item catalogue batch step: catalogue records (JSON lines with ``item_id``, ``title``,
``description``, ``category``, ``tags``) → unit-length text embeddings with the ONNX
encoder (``udfs.content.TextEncoder``: onnxruntime + tokenizers, no torch) → an
embeddings file (``udfs.features.embeddings``) that the job's folds and the backfill load.

Embedding happens once here, not in the stream: onnxruntime's output differs in the
last float bits with batch composition, so storing the vectors is what lets the stream
and the backfill compute bit-identical content features.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path


class CatalogueError(ValueError):
    """A catalogue line is not a usable item record."""


def read_catalogue(path: str | Path) -> list[dict]:
    """Records in file order (an item listed twice: the later record wins when embedded)."""
    items = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise CatalogueError(f"{path}:{n}: not JSON ({exc})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("item_id"), str) or not rec["item_id"]:
                raise CatalogueError(f"{path}:{n}: a record needs a non-empty string item_id")
            tags = rec.get("tags")
            if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
                raise CatalogueError(f"{path}:{n}: tags must be a list of strings")
            for k in ("title", "description", "category"):
                if rec.get(k) is not None and not isinstance(rec[k], str):
                    raise CatalogueError(f"{path}:{n}: {k} must be a string")
            items.append(rec)
    if not items:
        raise CatalogueError(f"{path}: no items")
    return items


def embed_catalogue_file(catalogue: str | Path, out_dir: str | Path, encoder_dir: str | Path,
                         variant: str = "fp32", batch_size: int = 64) -> dict:
    """Embed ``catalogue`` and write ``out_dir``; returns the card written with it."""
    from udfs.content import TextEncoder, embed_catalogue
    from udfs.features.embeddings import write_embeddings

    items = read_catalogue(catalogue)
    enc = TextEncoder.load(encoder_dir, variant=variant, batch_size=batch_size)
    t0 = time.monotonic()
    vecs = embed_catalogue(items, enc)
    ids = list(vecs)
    import numpy as np

    matrix = np.stack([vecs[i] for i in ids]) if ids else np.zeros((0, enc.dim), np.float32)
    card = {
        "encoder": {k: enc.card[k] for k in ("name", "source", "dim", "max_length", "files") if k in enc.card},
        "variant": variant,
        "catalogue": str(Path(catalogue).resolve()),
        "catalogue_sha256": hashlib.sha256(Path(catalogue).read_bytes()).hexdigest(),
        "embed_seconds": round(time.monotonic() - t0, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_embeddings(out_dir, ids, matrix, card)
    return {"n_items": len(ids), "dim": int(matrix.shape[1]), **card}


def movielens_catalogue(ml_path: str | Path, out: str | Path) -> int:
    """The ML-100K movies as catalogue records: title, first genre as category, all genres as tags
    (the same category/tags the MovieLens source puts on its events); no descriptions."""
    from recstream.sources.movielens import GENRES, MovieLensError

    item_file = Path(ml_path) / "u.item"
    if not item_file.exists():
        raise MovieLensError(f"{item_file} not found (expected the ML-100K u.item file)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with item_file.open(encoding="latin-1") as fh, out.open("w", encoding="utf-8") as dst:
        for line in fh:
            parts = line.rstrip("\n").split("|")
            if len(parts) < 5 + len(GENRES):
                continue
            genres = [g for g, f in zip(GENRES, parts[-len(GENRES):]) if f == "1"] or ["unknown"]
            dst.write(json.dumps({"item_id": parts[0], "title": parts[1], "category": genres[0], "tags": genres}) + "\n")
            n += 1
    return n
