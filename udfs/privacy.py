"""Privacy helpers: keyed pseudonymisation of user ids and a field allow-list for
what is persisted.

Pseudonyms are ``HMAC-SHA256(key, user_id)`` in hex, truncated to
``digest_chars`` (default 32 hex chars = 128 bits). They are stable for a key, so a
user's events still meet in one keyed state, and cannot be reversed or recomputed
without the key. Apply :meth:`Pseudonymizer.event` to each event *before* it is
keyed, folded or stored, so no store, state or log holds a raw id.

The key comes from a file (``key_file``, its bytes with surrounding whitespace
stripped) or else from an environment variable (``key_env``, default
``RECSTREAM_PSEUDONYM_KEY``); at least 16 bytes. It is never written to a log, a
repr or a pickle: a :class:`Pseudonymizer` refuses to be pickled, so each worker
loads the key itself (``Pseudonymizer.from_config`` in ``open()``).

Allow-list: :class:`FieldAllowList` keeps only listed dotted paths of a nested
feature dict (``"counts"`` keeps the whole subtree, ``"interest.short"`` one key
of ``interest``, ``"window_counts.*.click"`` a key under every child). A path
that leads into a non-dict value (a list, a number) keeps nothing there; list
fields are kept or dropped whole. Sub-dicts left empty are dropped.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Iterable

DEFAULT_KEY_ENV = "RECSTREAM_PSEUDONYM_KEY"
DEFAULT_DIGEST_CHARS = 32  # hex chars of a pseudonym: 128 bits
MIN_KEY_BYTES = 16


class PrivacyKeyError(RuntimeError):
    """Pseudonymisation is on but no usable key was found (the message never holds the key)."""


def load_key(key_env: str = DEFAULT_KEY_ENV, key_file: str | Path | None = None) -> bytes:
    """The pseudonymisation key from ``key_file`` if given, else from ``$key_env``."""
    if key_file is not None:
        path = Path(key_file)
        try:
            key = path.read_bytes().strip()
        except OSError as e:
            raise PrivacyKeyError(f"privacy.key_file {path}: cannot read ({e.strerror})") from None
        source = f"privacy.key_file {path}"
    else:
        value = os.environ.get(key_env)
        if not value:
            raise PrivacyKeyError(
                f"privacy.pseudonymize is on but no key was found: set ${key_env} "
                f"(at least {MIN_KEY_BYTES} bytes) or privacy.key_file")
        key = value.strip().encode()
        source = f"${key_env}"
    if len(key) < MIN_KEY_BYTES:
        raise PrivacyKeyError(f"{source}: key is {len(key)} bytes, need at least {MIN_KEY_BYTES}")
    return key


class Pseudonymizer:
    __slots__ = ("_mac", "digest_chars")

    def __init__(self, key: bytes, digest_chars: int = DEFAULT_DIGEST_CHARS) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise PrivacyKeyError(f"key is {len(key)} bytes, need at least {MIN_KEY_BYTES}")
        if not 16 <= digest_chars <= 64:
            raise ValueError("digest_chars must be in [16, 64]")
        self._mac = hmac.new(key, digestmod=hashlib.sha256)  # keyed once; copied per id
        self.digest_chars = digest_chars

    @classmethod
    def from_config(cls, cfg) -> "Pseudonymizer | None":
        """From a ``PrivacyConfig`` (or anything with its fields); ``None`` when disabled."""
        if not cfg.pseudonymize:
            return None
        return cls(load_key(cfg.key_env, cfg.key_file), cfg.digest_chars)

    def __call__(self, user_id: str) -> str:
        mac = self._mac.copy()
        mac.update(user_id.encode("utf-8", "surrogatepass"))  # a lone surrogate must not raise
        return mac.hexdigest()[: self.digest_chars]

    def event(self, event: dict) -> dict:
        """A copy of the event with ``user_id`` replaced by its pseudonym."""
        return {**event, "user_id": self(event["user_id"])}

    def payload(self, raw: str | bytes) -> str:
        """A raw payload (e.g. for the dead-letter log) with its user id pseudonymised when
        it parses as a JSON object with a string ``user_id``; otherwise a placeholder, since
        an unparseable payload may still contain the raw id."""
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return "<redacted: unparseable payload>"
        if not isinstance(obj, dict):
            return "<redacted: not a JSON object>"
        if isinstance(obj.get("user_id"), str):
            obj["user_id"] = self(obj["user_id"])
        return json.dumps(obj, separators=(",", ":"))

    def __repr__(self) -> str:
        return f"Pseudonymizer(key=<redacted>, digest_chars={self.digest_chars})"

    def __reduce__(self):
        raise TypeError("Pseudonymizer holds a secret key and is not picklable: "
                        "create it in the worker (Pseudonymizer.from_config in open())")


class FieldAllowList:
    """Keep only allowed dotted paths of a nested dict. ``None`` or ``["*"]`` keeps all."""

    def __init__(self, paths: Iterable[str] | None) -> None:
        self.tree = None if paths is None else self._build(list(paths))

    @staticmethod
    def _build(paths: list[str]):
        tree: dict = {}
        for path in paths:
            if not path or any(not seg for seg in path.split(".")):
                raise ValueError(f"bad allow-list path {path!r} (dotted names, '*' for any key)")
            node = tree
            segs = path.split(".")
            for i, seg in enumerate(segs):
                if node is True:
                    break  # a shorter path already keeps this whole subtree
                if i == len(segs) - 1:
                    node[seg] = True
                else:
                    node = node.setdefault(seg, {})
        return tree

    def filter(self, features: dict) -> dict:
        return features if self.tree is None else _apply(features, self.tree)


def _merge(a, b):
    """Union of two allow-list subtrees (``True``: everything below)."""
    if a is None:
        return b
    if b is None:
        return a
    if a is True or b is True:
        return True
    return {k: _merge(a.get(k), b.get(k)) for k in a.keys() | b.keys()}


def _apply(obj: dict, tree) -> dict:
    out = {}
    wild = tree.get("*")
    for k, v in obj.items():
        sub = _merge(tree.get(k), wild) if wild is not None else tree.get(k)
        if sub is None:
            continue
        if sub is True:
            out[k] = v
        elif isinstance(v, dict):
            kept = _apply(v, sub)
            if kept:
                out[k] = kept
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m udfs.privacy USER_ID...``: print the stored key of each user id (for
    look-ups and deletion requests), with the key from ``--key-file`` or ``$--key-env``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m udfs.privacy", description="Print the pseudonym of user ids.")
    ap.add_argument("user_ids", nargs="+")
    ap.add_argument("--key-env", default=DEFAULT_KEY_ENV)
    ap.add_argument("--key-file", type=Path, default=None)
    ap.add_argument("--digest-chars", type=int, default=32)
    args = ap.parse_args(argv)
    try:
        ps = Pseudonymizer(load_key(args.key_env, args.key_file), args.digest_chars)
    except PrivacyKeyError as e:
        ap.exit(2, f"error: {e}\n")
    for uid in args.user_ids:
        print(f"{uid}\t{ps(uid)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
