"""Torch-free inference helper used by the streaming job (numpy + onnxruntime only).

>>> m = InterestModel.load("models/demo")
>>> x = m.encode_sequences([["i3", "i17"], []])
>>> embedding, scores, item_ids = m.run(x)

``load`` validates the export directory written by :mod:`model_export.export`
and fails with a :class:`ModelLoadError` naming the file and what was expected.
Rows with no items at all (empty history) get the cold-start popularity list
instead of model output (zero embedding, scores ``nan``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

MODEL_FILE, CARD_FILE, VOCAB_FILE = "model.onnx", "model.json", "vocab.json"
PAD_INDEX, UNK_INDEX = 0, 1
_CARD_KEYS = ("version", "max_len", "top_k", "dim", "n_items")


def dedupe_consecutive(seq):
    """Drop back-to-back repeats of the same item (a view then a click of one item counts once).

    Training applies it to every sequence, so the streaming job applies it to the model input too."""
    out = []
    for x in seq:
        if not out or out[-1] != x:
            out.append(x)
    return out


class ModelLoadError(ValueError):
    """An export directory file is missing, corrupt or does not match what is expected."""


def _read_json(path: Path, what: str) -> dict:
    if not path.exists():
        raise ModelLoadError(f"{path}: missing; expected {what}")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"{path}: corrupt, expected {what} as JSON ({e})") from e


def default_providers() -> list[str]:
    """CUDA first when this onnxruntime build offers it, CPU always as fallback."""
    import onnxruntime as ort

    avail = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in avail]


class InterestModel:
    """An exported interest model: vocabulary + ONNX Runtime session."""

    def __init__(self, directory: Path, card: dict, item_ids: list[str], popularity: list[int], session):
        self.directory = directory
        self.card = card
        self.version = str(card["version"])
        self.max_len = int(card["max_len"])
        self.top_k = int(card["top_k"])
        self.dim = int(card["dim"])
        self.n_items = int(card["n_items"])
        self.item_ids = np.asarray(item_ids, dtype=object)
        self.index = {raw: i for i, raw in enumerate(item_ids) if i > UNK_INDEX}
        self.popular_indices = [int(i) for i in popularity]
        self.popular_item_ids = [item_ids[i] for i in self.popular_indices]
        self.session = session
        self.providers = list(session.get_providers())

    @classmethod
    def load(cls, directory: str | Path, providers: Sequence[str] | None = None,
             model_file: str = MODEL_FILE, threads: int | None = None, spin: bool = False) -> "InterestModel":
        """Load and validate ``directory`` (``model.onnx``, ``model.json``, ``vocab.json``)."""
        d = Path(directory)
        if not d.is_dir():
            raise ModelLoadError(f"{d}: model directory not found; expected {MODEL_FILE}, {CARD_FILE}, {VOCAB_FILE}")
        card_path, vocab_path, model_path = d / CARD_FILE, d / VOCAB_FILE, d / model_file
        card = _read_json(card_path, "a model card with " + ", ".join(_CARD_KEYS))
        missing = [k for k in _CARD_KEYS if k not in card]
        if missing:
            raise ModelLoadError(f"{card_path}: missing keys {missing}; expected {list(_CARD_KEYS)}")
        vocab = _read_json(vocab_path, "an object with 'item_ids' (list) and 'popularity' (list)")
        item_ids = vocab.get("item_ids") if isinstance(vocab, dict) else None
        if not isinstance(item_ids, list) or len(item_ids) != int(card["n_items"]):
            got = len(item_ids) if isinstance(item_ids, list) else type(item_ids).__name__
            raise ModelLoadError(f"{vocab_path}: 'item_ids' must be a list of n_items={card['n_items']} ids, got {got}")
        popularity = [int(i) for i in vocab.get("popularity", []) if UNK_INDEX < int(i) < len(item_ids)]
        if not model_path.exists():
            raise ModelLoadError(f"{model_path}: missing; expected an ONNX model exported by model_export")
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.log_severity_level = 3
        if threads:
            so.intra_op_num_threads = threads
        # onnxruntime's CPU thread pool spins between calls by default: inside a Flink job that
        # burns the cores the JVM and the Python operators need (measured: bench/README.md)
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "1" if spin else "0")
        try:
            sess = ort.InferenceSession(str(model_path), so, providers=list(providers or default_providers()))
        except Exception as e:  # noqa: BLE001 - onnxruntime raises several types
            raise ModelLoadError(f"{model_path}: corrupt or unreadable ONNX model ({type(e).__name__}: {e})") from e
        cls._check_signature(sess, model_path, card)
        return cls(d, card, [str(x) for x in item_ids], popularity, sess)

    @staticmethod
    def _check_signature(sess, path: Path, card: dict) -> None:
        n, d, k = int(card["max_len"]), int(card["dim"]), int(card["top_k"])
        ins = {i.name: i for i in sess.get_inputs()}
        outs = {o.name: o for o in sess.get_outputs()}
        want = f"input item_seq int64 [batch, {n}]; outputs embedding float32 [batch, {d}], " \
               f"topk_scores float32 [batch, {k}], topk_items int64 [batch, {k}]"
        def fail(what):
            raise ModelLoadError(f"{path}: wrong model signature ({what}); expected {want}")
        if set(ins) != {"item_seq"}:
            fail(f"inputs {sorted(ins)}")
        i = ins["item_seq"]
        if i.type != "tensor(int64)" or len(i.shape) != 2 or i.shape[1] != n:
            fail(f"item_seq {i.type} {i.shape}")
        spec = {"embedding": ("tensor(float)", d), "topk_scores": ("tensor(float)", k), "topk_items": ("tensor(int64)", k)}
        for name, (typ, width) in spec.items():
            o = outs.get(name)
            if o is None:
                fail(f"output {name} missing, outputs are {sorted(outs)}")
            if o.type != typ or len(o.shape) != 2 or o.shape[1] != width:
                fail(f"{name} {o.type} {o.shape}")

    @property
    def training_data(self) -> dict:
        """The model card's ``training_data`` (data set, n_items, n_users, n_interactions, time_range); {} if absent."""
        return dict(self.card.get("training_data") or {})

    def unknown_items(self, item_ids: Iterable[str]) -> int:
        """How many of ``item_ids`` (raw ids, repeats counted) are not in the model's vocabulary."""
        return sum(1 for x in item_ids if str(x) not in self.index)

    def mostly_unknown(self, item_ids: Iterable[str], share: float = 0.5) -> bool:
        """True when more than ``share`` of a non-empty ``item_ids`` is unknown to the model."""
        items = list(item_ids)
        return bool(items) and self.unknown_items(items) > share * len(items)

    def encode_sequences(self, sequences: Iterable[Iterable[str]]) -> np.ndarray:
        """Raw item-id lists -> ``[B, max_len]`` int64 (unknown -> 1, last ``max_len`` kept, left-padded)."""
        rows = []
        for seq in sequences:
            if isinstance(seq, (str, bytes)):
                raise TypeError("each sequence must be a list of item ids, not a single string")
            rows.append([self.index.get(str(x), UNK_INDEX) for x in seq])
        out = np.zeros((len(rows), self.max_len), dtype=np.int64)
        for r, s in enumerate(rows):
            s = s[-self.max_len:]
            if s:
                out[r, self.max_len - len(s):] = s
        return out

    def run(self, item_seq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the model: returns ``(embedding [B,D], topk_scores [B,K], topk_item_ids [B,K] raw ids)``."""
        x = np.asarray(item_seq)
        if x.ndim != 2 or x.shape[1] != self.max_len:
            raise ValueError(f"item_seq must have shape [batch, {self.max_len}], got {list(x.shape)}")
        if not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"item_seq must be an integer array, got {x.dtype}")
        x = x.astype(np.int64, copy=False)
        if x.shape[0] == 0:
            return (np.zeros((0, self.dim), np.float32), np.zeros((0, self.top_k), np.float32),
                    np.zeros((0, self.top_k), dtype=object))
        bad = (x < 0) | (x >= self.n_items)
        if bad.any():
            x = np.where(bad, UNK_INDEX, x)
        emb, scores, idx = self.session.run(None, {"item_seq": x})
        empty = ~(x != PAD_INDEX).any(axis=1)
        if empty.any() and self.popular_indices:
            pop = (self.popular_indices * self.top_k)[: self.top_k]
            idx = idx.copy()
            idx[empty] = pop
            scores = scores.copy()
            scores[empty] = np.nan
            emb = emb.copy()
            emb[empty] = 0.0
        return emb, scores, self.item_ids[idx]

    def recommend(self, sequences: Iterable[Iterable[str]]):
        """Convenience: ``run(encode_sequences(sequences))``."""
        return self.run(self.encode_sequences(sequences))
