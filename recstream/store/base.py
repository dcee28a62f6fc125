"""The store contract every backend (embedded SQLite, Cassandra) implements.

Writes are idempotent upserts ordered by (event_time, state_seq): a write carrying
an older state never replaces a newer one, so replays after a failure and
out-of-order writers are safe.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class FeatureRow:
    user_id: str
    event_time: int
    state_seq: int
    features: str  # JSON
    sequence: str  # JSON


@dataclass(frozen=True)
class ScoreRow:
    user_id: str
    event_time: int
    state_seq: int
    model_version: str
    cold_start: bool
    embedding: list
    topk_items: list
    topk_scores: list
    drift: float | None


@dataclass(frozen=True)
class DeadLetter:
    run_id: str
    stage: str
    reason: str
    raw: str


class OnlineStore(abc.ABC):
    @abc.abstractmethod
    def upsert_features(self, rows: Iterable[FeatureRow]) -> int:
        """Write rows; returns how many replaced or created a row (older ones are ignored)."""

    @abc.abstractmethod
    def upsert_scores(self, rows: Iterable[ScoreRow]) -> int:
        """Write model outputs; same ordering rule as features."""

    @abc.abstractmethod
    def get_top_k(self, user_id: str) -> dict | None:
        """``{'user_id', 'items', 'scores', 'model_version', 'cold_start', 'event_time', 'drift'}`` or None."""

    @abc.abstractmethod
    def get_user_state(self, user_id: str) -> dict | None:
        """``{'user_id', 'event_time', 'state_seq', 'features', 'sequence', 'updated_at'}`` or None."""

    @abc.abstractmethod
    def iter_user_states(self) -> Iterable[dict]:
        """Every stored user state (for audits and tests)."""

    @abc.abstractmethod
    def add_dead_letters(self, letters: Iterable[DeadLetter]) -> None: ...

    @abc.abstractmethod
    def dead_letters(self, run_id: str | None = None, limit: int = 100) -> list[dict]: ...

    @abc.abstractmethod
    def set_run_stats(self, run_id: str, stats: dict[str, int]) -> None: ...

    @abc.abstractmethod
    def run_stats(self, run_id: str) -> dict[str, int]: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
