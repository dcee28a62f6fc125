"""Read API for downstream services: what the job stored, from whichever store is configured.

    from recstream.reader import open_reader

    with open_reader(overrides=["store.kind=cassandra"]) as r:   # or the embedded SQLite default
        r.get_user_state("u00042")      # features as of now + sequence (+ scores)
        r.get_user_state("u00042", as_of="event")   # the row as stored: as of the user's newest event
        r.get_top_k("u00042", k=10)     # recommendations with model version

A service can be built and tested on the embedded store and pointed at Cassandra by
configuration alone: both implement the same ``OnlineStore`` contract.

Which time the features describe: the store holds each user's row as of their newest event.
By default the reader evaluates the time-dependent features (window counts, decayed interest and
content weight) as of the time of the read (``as_of="now"``), so a user idle for two hours has no
events in the last 5 minutes; ``as_of=<epoch ms>`` evaluates them at that time (not before the
row's event time), ``as_of="event"`` returns the row as stored. ``features.as_of`` and
``features.windows_as_of`` say which time the returned values are for
(``udfs.features.as_of``).
"""
from __future__ import annotations

from pathlib import Path
import json
import time
from typing import Iterable, Union

import orjson

from recstream.store.base import OnlineStore
from udfs.features.as_of import features_as_of

AsOf = Union[int, str, None]  # "now" | "event" | epoch ms (None: "now")


def now_ms() -> int:
    return int(time.time() * 1000)


def state_as_of(state: dict, as_of: AsOf, read_at_ms: int | None = None) -> dict:
    """``state`` (a store row: ``features`` decoded or JSON text) with its features evaluated as
    of ``as_of``: ``"now"``/None the read time (``read_at_ms``, default the wall clock; a row
    whose newest event is later than that is returned as of that event), an epoch-ms time (not
    before the row's event time: ``udfs.features.as_of.AsOfError``), or ``"event"`` (as stored,
    unchanged)."""
    if as_of == "event":
        return state
    if as_of is None or as_of == "now":
        t = max(read_at_ms if read_at_ms is not None else now_ms(), state["event_time"])
    elif isinstance(as_of, int) and not isinstance(as_of, bool):
        t = as_of
    else:
        raise ValueError(f"as_of must be 'now', 'event' or epoch milliseconds, got {as_of!r}")
    features = state["features"]
    if isinstance(features, str):
        try:
            features = orjson.loads(features)
        except orjson.JSONDecodeError:  # NaN/Infinity literals: valid for Python's json, not for orjson
            features = json.loads(features)
    return {**state, "features": features_as_of(features, t, state["event_time"])}
from recstream.store.factory import open_store


class Reader:
    """Read-only facade over an ``OnlineStore``."""

    def __init__(self, store: OnlineStore) -> None:
        self.store = store

    @property
    def kind(self) -> str:
        return self.store.kind

    def get_user_state(self, user_id: str, with_scores: bool = True, as_of: AsOf = "now") -> dict | None:
        """Latest features and sequence of a user (and scores, when present and asked for), or None;
        features as of ``as_of`` (module docstring)."""
        state = self.store.get_user_state(user_id)
        if state is None:
            return None
        if not with_scores:
            state.pop("scores", None)
        return state_as_of(state, as_of)

    def get_user_states(self, user_ids: Iterable[str], with_scores: bool = True,
                        raw_json: bool = False, as_of: AsOf = "now") -> dict[str, dict]:
        """``{user_id: state}`` for the stored ones of ``user_ids``, read in one store round trip,
        features as of ``as_of`` (module docstring; one read time for the whole batch).
        ``raw_json``: features and sequence as the stored JSON text (with ``as_of="event"`` only:
        an evaluation decodes the features)."""
        if raw_json and as_of != "event":
            raise ValueError("raw_json=True returns rows as stored: use it with as_of='event'")
        states = self.store.get_user_states(user_ids, raw_json=raw_json)
        if not with_scores:
            for state in states.values():
                state.pop("scores", None)
        if as_of == "event":
            return states
        read_at = now_ms()
        return {k: state_as_of(s, as_of, read_at) for k, s in states.items()}

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
