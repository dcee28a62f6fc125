"""Item text embeddings at run time: tokenizers + onnxruntime, no torch.

Loads an export written by :func:`model_export.text_encoder.export_text_encoder`
(``text_encoder.onnx`` or its INT8 variant, ``tokenizer.json``, ``text_encoder.json``)
and embeds texts in batches. Texts of a batch are sorted by token length first so
padding stays small; the output keeps the input order.

Item text: :func:`item_text` joins an item record's ``title``, ``description``,
``category`` and ``tags`` (the catalogue fields) into one string; the embedding of
an item is the encoder's unit-length vector of that string. :func:`embed_catalogue`
embeds a catalogue (records from a catalogue topic or file) in batches.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

ENCODER_FILE, INT8_FILE = "text_encoder.onnx", "text_encoder.int8.onnx"
TOKENIZER_FILE, CARD_FILE = "tokenizer.json", "text_encoder.json"


class TextEncoderLoadError(ValueError):
    """The export directory is missing a file or the card does not fit it."""


def item_text(item: dict) -> str:
    """One string per catalogue record: ``title. description. category. tags`` (missing
    parts left out; tags joined with ", ")."""
    parts = [str(item[k]).strip() for k in ("title", "description", "category") if item.get(k)]
    tags = item.get("tags")
    if tags:
        parts.append(", ".join(str(t) for t in tags))
    return ". ".join(p for p in parts if p)


class TextEncoder:
    def __init__(self, session, tokenizer, card: dict, batch_size: int = 64) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.card = card
        self.dim = int(card["dim"])
        self.max_length = int(card["max_length"])
        self.batch_size = batch_size

    @classmethod
    def load(cls, export_dir: str | Path, variant: str = "fp32", providers: list | None = None,
             threads: int | None = None, batch_size: int = 64) -> "TextEncoder":
        import onnxruntime as ort
        from tokenizers import Tokenizer

        d = Path(export_dir)
        if variant not in ("fp32", "int8"):
            raise ValueError(f"variant must be fp32 or int8, got {variant!r}")
        model = d / (ENCODER_FILE if variant == "fp32" else INT8_FILE)
        for f, what in ((d / CARD_FILE, "the model card"), (d / TOKENIZER_FILE, "the tokenizer"), (model, "the ONNX graph")):
            if not f.exists():
                raise TextEncoderLoadError(
                    f"{f}: missing ({what}); export it with `python -m model_export.text_encoder {d}`")
        card = json.loads((d / CARD_FILE).read_text())
        missing = [k for k in ("dim", "max_length") if k not in card]
        if missing:
            raise TextEncoderLoadError(f"{d / CARD_FILE}: missing keys {missing}")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(model), opts, providers=providers or ["CPUExecutionProvider"])
        tok = Tokenizer.from_file(str(d / TOKENIZER_FILE))
        tok.no_padding()
        tok.enable_truncation(max_length=int(card["max_length"]))
        return cls(session, tok, card, batch_size)

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, attention_mask), int64, right-padded to the longest text."""
        return _pad(self.tokenizer.encode_batch(list(texts)))

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings ``[len(texts), dim]`` float32, in input order."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encs = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        for s in range(0, len(order), self.batch_size):
            idx = order[s: s + self.batch_size]
            out[idx] = self.run(*_pad([encs[i] for i in idx]))
        return out


def _pad(encs) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(e.ids) for e in encs)
    ids = np.zeros((len(encs), width), dtype=np.int64)
    mask = np.zeros((len(encs), width), dtype=np.int64)
    for r, e in enumerate(encs):
        n = len(e.ids)
        ids[r, :n] = e.ids
        mask[r, :n] = 1
    return ids, mask


def embed_catalogue(items: Iterable[dict], encoder: TextEncoder) -> dict[str, np.ndarray]:
    """``item_id -> embedding`` for catalogue records (the last record of an id wins)."""
    latest: dict[str, str] = {}
    for item in items:
        latest[item["item_id"]] = item_text(item)
    ids = list(latest)
    vecs = encoder.encode([latest[i] for i in ids])
    return {i: vecs[r] for r, i in enumerate(ids)}
