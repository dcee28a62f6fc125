"""Read API for downstream services: what the job stored, from whichever store is configured.

    from recstream.reader import open_reader

    with open_reader(overrides=["store.kind=cassandra"]) as r:   # or the embedded SQLite default
        r.get_user_state("u00042")      # features + sequence (+ scores)
        r.get_top_k("u00042", k=10)     # recommendations with model version

A service can be built and tested on the embedded store and pointed at Cassandra by
configuration alone: both implement the same ``OnlineStore`` contract.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from recstream.store.base import OnlineStore
from recstream.store.factory import open_store


class Reader:
    """Read-only facade over an ``OnlineStore``."""

    def __init__(self, store: OnlineStore) -> None:
        self.store = store

    @property
    def kind(self) -> str:
        return self.store.kind

    def get_user_state(self, user_id: str, with_scores: bool = True) -> dict | None:
        """Latest features and sequence of a user (and scores, when present and asked for), or None."""
        state = self.store.get_user_state(user_id)
        if state is not None and not with_scores:
            state.pop("scores", None)
        return state

    def get_user_states(self, user_ids: Iterable[str], with_scores: bool = True,
                        raw_json: bool = False) -> dict[str, dict]:
        """``{user_id: state}`` for the stored ones of ``user_ids``, read in one store round trip
        (``raw_json``: features and sequence as the stored JSON text)."""
        states = self.store.get_user_states(user_ids, raw_json=raw_json)
        if not with_scores:
            for state in states.values():
                state.pop("scores", None)
        return states

    def get_top_k(self, user_id: str, k: int | None = None, with_embedding: bool = False) -> dict | None:
        """The user's top-K items with scores, model version and cold-start flag, or None.

        ``k`` cuts the stored list (at most the model's K); the embedding is left out unless asked for."""
        top = self.store.get_top_k(user_id)
        if top is None:
            return None
        if k is not None:
            if k < 1:
                raise ValueError("k must be >= 1")
            top["items"], top["scores"] = top["items"][:k], top["scores"][:k]
        if not with_embedding:
            top.pop("embedding", None)
        return top

    def get_item(self, item_id: str) -> dict | None:
        return self.store.get_item(item_id)

    def get_popular_items(self, scope: str = "global", k: int | None = None) -> dict | None:
        pop = self.store.get_popular_items(scope)
        if pop is not None and k is not None:
            pop["items"], pop["scores"] = pop["items"][:k], pop["scores"][:k]
        return pop

    def model_versions(self, model_name: str = "interest") -> list[dict]:
        return self.store.model_versions(model_name)

    def dead_letters(self, run_id: str | None = None, limit: int = 100) -> list[dict]:
        """Rejected events with stage, reason and raw text (of one run when ``run_id`` is given)."""
        return self.store.dead_letters(run_id, limit)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_reader(config_files: Iterable[str | Path] = (), overrides: Iterable[str] = (), config=None) -> Reader:
    """A ``Reader`` on the store of a recstream config (layered YAML + ``section.key=value`` overrides,
    or an already loaded ``RecstreamConfig``/``StoreConfig``)."""
    if config is None:
        from recstream.config import load_config

        config = load_config(config_files, overrides)
    store_cfg = getattr(config, "store", config)
    return Reader(open_store(store_cfg, read_only=True))
