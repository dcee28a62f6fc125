"""The store contract every backend (embedded SQLite, Cassandra) implements.

Writes are idempotent upserts ordered by (event_time, state_seq): a write carrying
an older state never replaces a newer one, so replays after a failure and
out-of-order writers are safe. Every write method returns only once the store has
acknowledged all of its rows (committed / acknowledged at the configured consistency)
and raises when it cannot, so a caller that returns afterwards may consider them done.
Which rows "won" is observable through the reads; ``tests/recstream/store`` checks
every backend against the same contract.
"""
from __future__ import annotations

import abc
import json
from typing import Iterable

# the row types of the contract live with the schemas (the job's operators build them without
# importing a store); re-exported here, where the contract is
from schemas.rows import DeadLetter, FeatureRow, ItemRow, ModelVersion, PopularItems, ScoreRow  # noqa: F401


class StoreError(RuntimeError):
    """The store cannot serve a request (unreachable, schema missing, write failed for good)."""


class OnlineStore(abc.ABC):
    kind = "abstract"

    @abc.abstractmethod
    def upsert_features(self, rows: Iterable[FeatureRow]) -> int:
        """Write user states (features + sequence); an older state never replaces a newer one.

        Returns how many rows the store accepted (SQLite: how many replaced or created a row)."""

    @abc.abstractmethod
    def upsert_scores(self, rows: Iterable[ScoreRow]) -> int:
        """Write model outputs; same ordering rule as features."""

    def upsert_users(self, users: Iterable[tuple[FeatureRow, ScoreRow | None]]) -> int:
        """Write a batch of user states with their scores (or None); returns the number of users.

        Backends override this to write the whole batch at once (SQLite: one transaction;
        Cassandra: all statements concurrently, bounded in flight)."""
        users = list(users)
        self.upsert_features([f for f, _ in users])
        self.upsert_scores([s for _, s in users if s is not None])
        return len(users)

    @abc.abstractmethod
    def upsert_items(self, rows: Iterable[ItemRow]) -> int:
        """Write item features and popularity; ordered by (event_time, state_seq) like user states."""

    @abc.abstractmethod
    def get_item(self, item_id: str) -> dict | None:
        """``{'item_id', 'event_time', 'state_seq', 'features', 'popularity', 'updated_at'}`` or None."""

    @abc.abstractmethod
    def set_popular_items(self, lists: Iterable[PopularItems]) -> None:
        """Replace the popular-items list of each scope unless the stored one has a newer event time."""

    @abc.abstractmethod
    def get_popular_items(self, scope: str = "global") -> dict | None:
        """``{'scope', 'event_time', 'items', 'scores', 'updated_at'}`` or None."""

    @abc.abstractmethod
    def register_model_versions(self, versions: Iterable[ModelVersion]) -> None:
        """Record model versions (a later registration of the same version replaces the earlier one)."""

    @abc.abstractmethod
    def model_versions(self, model_name: str) -> list[dict]:
        """``[{'model_name', 'version', 'registered_at', 'card'}]`` ordered by version."""

    @abc.abstractmethod
    def get_top_k(self, user_id: str) -> dict | None:
        """``{'user_id', 'items', 'scores', 'embedding', 'model_version', 'cold_start', 'event_time',
        'state_seq', 'drift', 'updated_at'}`` or None."""

    @abc.abstractmethod
    def get_user_state(self, user_id: str) -> dict | None:
        """``{'user_id', 'event_time', 'state_seq', 'features', 'sequence', 'updated_at'}`` plus
        ``'scores'`` (as ``get_top_k``) when the user has scores, or None."""

    def get_user_states(self, user_ids: Iterable[str], raw_json: bool = False) -> dict[str, dict]:
        """``{user_id: state}`` (as ``get_user_state``) for those of ``user_ids`` that are stored.

        ``raw_json``: ``features`` and ``sequence`` stay the stored JSON text, undecoded (a server
        passes them through without parsing and re-encoding). Backends override this to read a
        whole batch in one round trip (SQLite: one query; Cassandra: all reads in flight at once)."""
        out = {}
        for uid in dict.fromkeys(user_ids):
            state = self.get_user_state(uid)
            if state is not None:
                if raw_json:
                    state["features"], state["sequence"] = json.dumps(state["features"]), json.dumps(state["sequence"])
                out[uid] = state
        return out

    @abc.abstractmethod
    def iter_user_states(self) -> Iterable[dict]:
        """Every stored user state, in no particular order (for audits and tests; a full scan)."""

    @abc.abstractmethod
    def delete_user(self, user_id: str) -> dict[str, int | None]:
        """Delete everything stored under this user key (features, sequence, scores and, where the
        backend can find them, dead letters whose payload carries it). ``user_id`` is the stored
        key: the pseudonym when pseudonymisation is on. Returns rows deleted per table (``None``:
        not countable/findable on this backend). A later write of an older state must not bring
        the user back on a backend with write timestamps (docs/features.md, Deleting a user's data)."""

    @abc.abstractmethod
    def add_dead_letters(self, letters: Iterable[DeadLetter]) -> None:
        """Append to the dead-letter log (at least once: a replay after a failover may repeat letters)."""

    @abc.abstractmethod
    def dead_letters(self, run_id: str | None = None, limit: int = 100) -> list[dict]:
        """``[{'run_id', 'stage', 'reason', 'raw', 'recorded_at'}]``, oldest first within a run."""

    @abc.abstractmethod
    def set_run_stats(self, run_id: str, stats: dict[str, int]) -> None:
        """Set (not add) named counters of a run."""

    @abc.abstractmethod
    def run_stats(self, run_id: str) -> dict[str, int]: ...

    @abc.abstractmethod
    def run_ids(self) -> list[str]:
        """Every run that has counters stored (until they expire where the backend has a TTL), sorted."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
