"""Embedded default store on SQLite (standard library), WAL mode so readers
(``recstream inspect``, downstream services) can read while the job writes."""
from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Iterable

import orjson

from recstream.store.base import DeadLetter, FeatureRow, ItemRow, ModelVersion, OnlineStore, PopularItems, ScoreRow
from schemas import read_text

_UPSERT = """
INSERT INTO user_features (user_id, event_time, state_seq, features, sequence, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT(user_id) DO UPDATE SET
    event_time = excluded.event_time, state_seq = excluded.state_seq,
    features = excluded.features, sequence = excluded.sequence, updated_at = excluded.updated_at
WHERE (excluded.event_time, excluded.state_seq) > (user_features.event_time, user_features.state_seq)
"""

_UPSERT_SCORES = """
INSERT INTO user_scores (user_id, event_time, state_seq, model_version, cold_start, embedding, topk_items,
                         topk_scores, drift, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(user_id) DO UPDATE SET
    event_time = excluded.event_time, state_seq = excluded.state_seq, model_version = excluded.model_version,
    cold_start = excluded.cold_start, embedding = excluded.embedding, topk_items = excluded.topk_items,
    topk_scores = excluded.topk_scores, drift = excluded.drift, updated_at = excluded.updated_at
WHERE (excluded.event_time, excluded.state_seq) > (user_scores.event_time, user_scores.state_seq)
"""

_UPSERT_ITEM = """
INSERT INTO item_features (item_id, event_time, state_seq, features, popularity, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT(item_id) DO UPDATE SET
    event_time = excluded.event_time, state_seq = excluded.state_seq, features = excluded.features,
    popularity = excluded.popularity, updated_at = excluded.updated_at
WHERE (excluded.event_time, excluded.state_seq) > (item_features.event_time, item_features.state_seq)
"""

_SET_POPULAR = """
INSERT INTO popular_items (scope, event_time, items, scores, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT(scope) DO UPDATE SET
    event_time = excluded.event_time, items = excluded.items, scores = excluded.scores, updated_at = excluded.updated_at
WHERE excluded.event_time >= popular_items.event_time
"""


def _loads(text: str):
    """orjson where it can (a batch read decodes many rows); the json module for what orjson refuses
    (NaN/Infinity literals, integers beyond 64 bits), so both give the same values."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _feature_params(r: FeatureRow, now: int) -> tuple:
    return (r.user_id, r.event_time, r.state_seq, r.features, r.sequence, now)


def _dumps(values) -> str:
    """JSON text of a list: orjson (about 15x faster on a score row's floats, and the same values
    read back), json.dumps where a number is not finite (orjson would write null; json writes NaN,
    which the readers' json.loads takes back)."""
    if values and isinstance(values[0], float) and not all(map(math.isfinite, values)):
        return json.dumps(values)
    try:
        return orjson.dumps(values).decode()
    except TypeError:  # e.g. an integer beyond 64 bits
        return json.dumps(values)


def _score_params(r: ScoreRow, now: int) -> tuple:
    return (r.user_id, r.event_time, r.state_seq, r.model_version, int(r.cold_start), _dumps(r.embedding),
            _dumps(r.topk_items), _dumps(r.topk_scores), r.drift, now)


class SqliteStore(OnlineStore):
    kind = "sqlite"

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only:
            if not self.path.exists():
                raise FileNotFoundError(f"store {self.path} does not exist (run `recstream run` first)")
            self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: PyFlink's process-mode (Beam) workers call a function's open()
            # and its map()/close() on different threads; each store object is still used by one
            # operator at a time, and the sqlite3 module serialises access (threadsafety 3).
            self.conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(read_text("store_sqlite.sql"))
            self.conn.commit()
        self.conn.row_factory = sqlite3.Row

    def upsert_users(self, users) -> int:
        """A batch of users (features, scores or None) in one transaction."""
        now = int(time.time() * 1000)
        users = list(users)
        with self.conn:
            self.conn.executemany(_UPSERT, [_feature_params(f, now) for f, _ in users])
            self.conn.executemany(_UPSERT_SCORES, [_score_params(s, now) for _, s in users if s is not None])
        return len(users)

    def upsert_features(self, rows: Iterable[FeatureRow]) -> int:
        now = int(time.time() * 1000)
        with self.conn:
            before = self.conn.total_changes
            self.conn.executemany(_UPSERT, [_feature_params(r, now) for r in rows])
            return self.conn.total_changes - before

    def upsert_scores(self, rows: Iterable[ScoreRow]) -> int:
        now = int(time.time() * 1000)
        with self.conn:
            before = self.conn.total_changes
            self.conn.executemany(_UPSERT_SCORES, [_score_params(r, now) for r in rows])
            return self.conn.total_changes - before

    def get_top_k(self, user_id: str) -> dict | None:
        row = self.conn.execute("SELECT * FROM user_scores WHERE user_id = ?", (user_id,)).fetchone()
        if row is None:
            return None
        return {
            "user_id": row["user_id"], "items": json.loads(row["topk_items"]), "scores": json.loads(row["topk_scores"]),
            "embedding": json.loads(row["embedding"]), "model_version": row["model_version"],
            "cold_start": bool(row["cold_start"]), "event_time": row["event_time"], "state_seq": row["state_seq"],
            "drift": row["drift"], "updated_at": row["updated_at"],
        }

    def get_user_state(self, user_id: str) -> dict | None:
        row = self.conn.execute("SELECT * FROM user_features WHERE user_id = ?", (user_id,)).fetchone()
        if row is None:
            return None
        state = self._decode(row)
        scores = self.get_top_k(user_id)
        if scores is not None:
            state["scores"] = scores
        return state

    def get_user_states(self, user_ids, raw_json: bool = False) -> dict[str, dict]:
        """One query for the whole batch: features joined with scores."""
        decode = (lambda text: text) if raw_json else _loads
        ids = list(dict.fromkeys(user_ids))
        out: dict[str, dict] = {}
        # SQLite's default limit on bound parameters is 32766; larger batches are read in slices
        for i in range(0, len(ids), 30000):
            part = ids[i:i + 30000]
            rows = self.conn.execute(
                "SELECT f.user_id, f.event_time, f.state_seq, f.features, f.sequence, f.updated_at, "
                "s.user_id AS s_user_id, s.event_time AS s_event_time, s.state_seq AS s_state_seq, "
                "s.model_version, s.cold_start, s.embedding, s.topk_items, s.topk_scores, s.drift, "
                "s.updated_at AS s_updated_at FROM user_features f LEFT JOIN user_scores s ON s.user_id = f.user_id "
                f"WHERE f.user_id IN ({','.join('?' * len(part))})", part)
            for row in rows:
                state = {"user_id": row["user_id"], "event_time": row["event_time"], "state_seq": row["state_seq"],
                         "features": decode(row["features"]), "sequence": decode(row["sequence"]),
                         "updated_at": row["updated_at"]}
                if row["s_user_id"] is not None:
                    state["scores"] = {
                        "user_id": row["s_user_id"], "items": _loads(row["topk_items"]),
                        "scores": _loads(row["topk_scores"]), "embedding": _loads(row["embedding"]),
                        "model_version": row["model_version"], "cold_start": bool(row["cold_start"]),
                        "event_time": row["s_event_time"], "state_seq": row["s_state_seq"], "drift": row["drift"],
                        "updated_at": row["s_updated_at"],
                    }
                out[row["user_id"]] = state
        return out

    def iter_user_states(self):
        for row in self.conn.execute("SELECT * FROM user_features ORDER BY user_id"):
            yield self._decode(row)

    @staticmethod
    def _decode(row: sqlite3.Row) -> dict:
        d = dict(row)
        d["features"] = json.loads(d["features"])
        d["sequence"] = json.loads(d["sequence"])
        return d

    def upsert_items(self, rows: Iterable[ItemRow]) -> int:
        now = int(time.time() * 1000)
        with self.conn:
            before = self.conn.total_changes
            self.conn.executemany(_UPSERT_ITEM, [(r.item_id, r.event_time, r.state_seq, r.features,
                                                  float(r.popularity), now) for r in rows])
            return self.conn.total_changes - before

    def get_item(self, item_id: str) -> dict | None:
        row = self.conn.execute("SELECT * FROM item_features WHERE item_id = ?", (item_id,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["features"] = json.loads(d["features"])
        return d

    def set_popular_items(self, lists: Iterable[PopularItems]) -> None:
        now = int(time.time() * 1000)
        with self.conn:
            self.conn.executemany(_SET_POPULAR, [(p.scope, p.event_time, json.dumps(list(p.items)),
                                                  json.dumps([float(x) for x in p.scores]), now) for p in lists])

    def get_popular_items(self, scope: str = "global") -> dict | None:
        row = self.conn.execute("SELECT * FROM popular_items WHERE scope = ?", (scope,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["items"] = json.loads(d["items"])
        d["scores"] = json.loads(d["scores"])
        return d

    def register_model_versions(self, versions: Iterable[ModelVersion]) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT INTO model_versions (model_name, version, registered_at, card) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(model_name, version) DO UPDATE SET registered_at = excluded.registered_at, "
                "card = excluded.card",
                [(v.model_name, v.version, v.registered_at, v.card) for v in versions],
            )

    def model_versions(self, model_name: str) -> list[dict]:
        rows = self.conn.execute("SELECT * FROM model_versions WHERE model_name = ? ORDER BY version", (model_name,))
        return [{**dict(r), "card": json.loads(r["card"])} for r in rows]

    def delete_user(self, user_id: str) -> dict[str, int | None]:
        """One transaction. Dead letters: those whose payload parses with this ``user_id``, and
        unparseable ones that contain it as a quoted JSON string."""
        with self.conn:
            out = {t: self.conn.execute(f"DELETE FROM {t} WHERE user_id = ?", (user_id,)).rowcount
                   for t in ("user_features", "user_scores")}
            out["dead_letters"] = self.conn.execute(
                "DELETE FROM dead_letters WHERE CASE WHEN json_valid(raw) THEN json_extract(raw, '$.user_id') = ? "
                "ELSE instr(raw, ?) > 0 END", (user_id, json.dumps(user_id))).rowcount
        return out

    def add_dead_letters(self, letters: Iterable[DeadLetter]) -> None:
        now = int(time.time() * 1000)
        with self.conn:
            self.conn.executemany(
                "INSERT INTO dead_letters (run_id, stage, reason, raw, recorded_at) VALUES (?, ?, ?, ?, ?)",
                [(d.run_id, d.stage, d.reason, d.raw, now) for d in letters],
            )

    def dead_letters(self, run_id: str | None = None, limit: int = 100) -> list[dict]:
        cols = "run_id, stage, reason, raw, recorded_at"
        if run_id is None:
            rows = self.conn.execute(f"SELECT {cols} FROM dead_letters ORDER BY id LIMIT ?", (limit,))
        else:
            rows = self.conn.execute(f"SELECT {cols} FROM dead_letters WHERE run_id = ? ORDER BY id LIMIT ?",
                                     (run_id, limit))
        return [dict(r) for r in rows]

    def set_run_stats(self, run_id: str, stats: dict[str, int]) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT INTO run_stats (run_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT(run_id, key) DO UPDATE SET value = excluded.value",
                [(run_id, k, int(v)) for k, v in stats.items()],
            )

    def run_stats(self, run_id: str) -> dict[str, int]:
        rows = self.conn.execute("SELECT key, value FROM run_stats WHERE run_id = ?", (run_id,))
        return {r["key"]: r["value"] for r in rows}

    def run_ids(self) -> list[str]:
        return [r["run_id"] for r in self.conn.execute("SELECT DISTINCT run_id FROM run_stats ORDER BY run_id")]

    def close(self) -> None:
        self.conn.close()
