"""Loaders that turn interaction logs into per-user item sequences.

Three sources are supported:

* event logs (iterables of dicts as produced by ``recstream.sources``) via
  :func:`sequences_from_events`;
* the MovieLens-100K layout (``u.data`` + optional ``u.item`` genres) via
  :func:`load_ml100k`;
* the plain sequence format of the SASRec paper's public files (one
  ``user item`` pair per line, lines in time order per user, ids from 1) via
  :func:`load_sasrec_txt`;
* the S3-Rec format of the Amazon benchmark files (one line per user,
  ``user item item ...`` in time order) via :func:`load_s3rec_txt`;
  :func:`sniff_sequence_format` tells the two apart.

All of them return a :class:`SequenceData`: a vocabulary in which index 0 is
padding and index 1 the reserved unknown item, per-user sequences of item
indices in time order, and optional per-item content features (category ids).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from model_export.runtime import dedupe_consecutive as _dedupe_consecutive

PAD_INDEX = 0
UNK_INDEX = 1
PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
N_RESERVED = 2

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)


@dataclass
class SequenceData:
    """Per-user item sequences over a shared item vocabulary.

    ``item_ids[i]`` is the raw id of model item index ``i`` (0 = padding,
    1 = unknown).  ``sequences`` maps raw user id to item indices in time order.
    ``item_features[i]`` lists the content-feature (category) indices of item
    ``i`` (feature index 0 is reserved for "none"); ``feature_names`` names them.
    """

    item_ids: list[str]
    sequences: dict[str, list[int]]
    item_features: list[list[int]] | None = None
    feature_names: list[str] = field(default_factory=list)
    name: str = "data"
    time_range: tuple[int, int] | None = None  # first/last event time (the source's unit) when it has times

    @property
    def n_items(self) -> int:
        """Vocabulary size including the two reserved indices."""
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return sum(len(s) for s in self.sequences.values())

    def data_hash(self) -> str:
        """SHA-256 of the vocabulary and sequences (stable across runs)."""
        h = hashlib.sha256()
        h.update(json.dumps(self.item_ids).encode())
        for user in sorted(self.sequences):
            h.update(user.encode())
            h.update(b":")
            h.update(",".join(map(str, self.sequences[user])).encode())
            h.update(b"\n")
        if self.item_features is not None:
            h.update(json.dumps(self.item_features).encode())
        return h.hexdigest()


class _Vocab:
    """Incrementally assigns item indices (starting after the reserved ones)."""

    def __init__(self) -> None:
        self.item_ids: list[str] = [PAD_TOKEN, UNK_TOKEN]
        self.index: dict[str, int] = {}

    def __call__(self, raw: str) -> int:
        idx = self.index.get(raw)
        if idx is None:
            idx = len(self.item_ids)
            self.index[raw] = idx
            self.item_ids.append(raw)
        return idx


def sequences_from_events(
    events: Iterable[Mapping],
    dedupe_consecutive: bool = True,
    min_length: int = 1,
    name: str = "events",
) -> SequenceData:
    """Build sequences from event dicts (``user_id``, ``item_id``, ``event_time``...).

    Events are sorted per user by ``(event_time, arrival order)``.  Events without
    an ``item_id`` (e.g. searches) are skipped.  With ``dedupe_consecutive`` an
    item repeated back-to-back (view then click of the same item) counts once,
    so the next-item target is never trivially the current item.  The optional
    ``category`` of an item (first one seen) becomes its content feature.
    """
    per_user: dict[str, list[tuple[int, int, str]]] = {}
    categories: dict[str, str] = {}
    for order, ev in enumerate(events):
        item = ev.get("item_id")
        if item is None or item == "":
            continue
        item = str(item)
        user = str(ev["user_id"])
        per_user.setdefault(user, []).append((int(ev.get("event_time", 0)), order, item))
        cat = ev.get("category")
        if cat and item not in categories:
            categories[item] = str(cat)
    vocab = _Vocab()
    sequences: dict[str, list[int]] = {}
    times = [t for rows in per_user.values() for t, _, _ in rows]
    for user in sorted(per_user):
        rows = sorted(per_user[user])
        seq = [vocab(item) for _, _, item in rows]
        if dedupe_consecutive:
            seq = _dedupe_consecutive(seq)
        if len(seq) >= min_length:
            sequences[user] = seq
    features = None
    names: list[str] = []
    if categories:
        names = ["<none>"] + sorted(set(categories.values()))
        cat_index = {c: i for i, c in enumerate(names)}
        features = [[] for _ in vocab.item_ids]
        for raw, idx in vocab.index.items():
            if raw in categories:
                features[idx] = [cat_index[categories[raw]]]
    span = (min(times), max(times)) if times else None
    return SequenceData(vocab.item_ids, sequences, features, names, name, span)


def load_ml100k(path: str | Path, with_genres: bool = True) -> SequenceData:
    """Read a MovieLens-100K directory (``u.data``; genres from ``u.item`` if present).

    ``u.data`` lines are ``user \\t item \\t rating \\t unix_ts``; every rating is
    an interaction (as in the SASRec preprocessing).  Ties in time keep file order.
    """
    root = Path(path)
    data_file = root / "u.data" if root.is_dir() else root
    if not data_file.exists():
        raise FileNotFoundError(f"{data_file}: MovieLens-100K ratings file (u.data) not found")
    rows: dict[str, list[tuple[int, int, str]]] = {}
    with open(data_file, encoding="latin-1") as fh:
        for order, line in enumerate(fh):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 4:
                raise ValueError(f"{data_file}:{order + 1}: expected 'user item rating ts', got {line!r}")
            user, item, _rating, ts = parts[:4]
            rows.setdefault(user, []).append((int(ts), order, item))
    vocab = _Vocab()
    sequences = {}
    for user in sorted(rows, key=_numeric_key):
        sequences[user] = [vocab(item) for _, _, item in sorted(rows[user])]
    features, names = None, []
    item_file = root / "u.item" if root.is_dir() else data_file.with_name("u.item")
    if with_genres and item_file.exists():
        names = ["<none>", *ML100K_GENRES]
        features = [[] for _ in vocab.item_ids]
        with open(item_file, encoding="latin-1") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("|")
                if len(parts) < 20:
                    continue
                idx = vocab.index.get(parts[0])
                if idx is None:
                    continue
                flags = parts[-19:]
                features[idx] = [g + 1 for g, f in enumerate(flags) if f.strip() == "1"]
    times = [t for r in rows.values() for t, _, _ in r]
    span = (min(times), max(times)) if times else None
    return SequenceData(vocab.item_ids, sequences, features, names, "ml-100k", span)


def sniff_sequence_format(path: str | Path, lines: int = 50) -> str:
    """``"s3rec"`` if any of the first non-empty lines holds more than two ids, else ``"sasrec"``."""
    with open(path) as fh:
        seen = 0
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            if len(parts) > 2:
                return "s3rec"
            seen += 1
            if seen >= lines:
                break
    return "sasrec"


def load_s3rec_txt(path: str | Path) -> SequenceData:
    """Read the S3-Rec format: ``user item item ...`` per line, items in time order, ids from 1.

    A user appearing on several lines gets the lines concatenated in file order.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: S3-Rec-format sequence file not found")
    rows: list[tuple[str, list[str]]] = []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise ValueError(f"{path}:{n}: expected 'user item [item ...]', got {line!r}")
            rows.append((parts[0], parts[1:]))
    vocab = _Vocab()
    for item in sorted({i for _, items in rows for i in items}, key=_numeric_key):
        vocab(item)
    sequences: dict[str, list[int]] = {}
    for user, items in rows:
        sequences.setdefault(user, []).extend(vocab.index[i] for i in items)
    sequences = {u: sequences[u] for u in sorted(sequences, key=_numeric_key)}
    return SequenceData(vocab.item_ids, sequences, None, [], path.stem)


def load_sasrec_txt(path: str | Path) -> SequenceData:
    """Read the SASRec paper's format: ``user item`` per line, time-ordered per user."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: SASRec-format sequence file not found")
    vocab = _Vocab()
    sequences: dict[str, list[int]] = {}
    # Assign item indices in numeric id order so the vocabulary is independent of line order.
    pairs: list[tuple[str, str]] = []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise ValueError(f"{path}:{n}: expected 'user item', got {line!r}")
            pairs.append((parts[0], parts[1]))
    for item in sorted({i for _, i in pairs}, key=_numeric_key):
        vocab(item)
    for user, item in pairs:
        sequences.setdefault(user, []).append(vocab.index[item])
    sequences = {u: sequences[u] for u in sorted(sequences, key=_numeric_key)}
    return SequenceData(vocab.item_ids, sequences, None, [], path.stem)


def _numeric_key(x: str):
    return (0, int(x), "") if x.isdigit() else (1, 0, x)


def load_dataset(kind: str, path: str | Path | None = None, **kwargs) -> SequenceData:
    """Load ``kind`` in {"synthetic", "ml-100k", "sasrec", "s3rec"} (``path`` for the last three).

    ``sasrec`` reads either text format: a file whose lines hold more than two ids
    is read as S3-Rec.
    """
    if kind == "ml-100k":
        return load_ml100k(path or "/work/shared/data/ml-100k")
    if kind in ("sasrec", "s3rec"):
        if path is None:
            raise ValueError(f"--path is required for --data {kind}")
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: sequence file not found")
        if kind == "s3rec" or sniff_sequence_format(path) == "s3rec":
            return load_s3rec_txt(path)
        return load_sasrec_txt(path)
    if kind == "synthetic":
        from model_export.synthetic import synthetic_events

        return sequences_from_events(synthetic_events(**kwargs), name="synthetic")
    raise ValueError(f"unknown data kind {kind!r}; expected synthetic, ml-100k, sasrec or s3rec")


def left_pad(seqs: Iterable[Iterable[int]], max_len: int):
    """``[B, max_len]`` int64 array: last ``max_len`` items of each sequence, left-padded with 0."""
    import numpy as np

    seqs = list(seqs)
    out = np.zeros((len(seqs), max_len), dtype=np.int64)
    for r, s in enumerate(seqs):
        s = list(s)[-max_len:] if max_len > 0 else []
        if s:
            out[r, max_len - len(s):] = s
    return out
