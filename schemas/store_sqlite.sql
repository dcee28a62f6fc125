-- recstream embedded store (SQLite). Same data model as the Cassandra keyspace:
-- one row per user for features, later one per user for model outputs, plus the
-- dead-letter log and per-run counters.
CREATE TABLE IF NOT EXISTS user_features (
    user_id     TEXT PRIMARY KEY,
    event_time  INTEGER NOT NULL,   -- newest event time folded into this state (epoch ms)
    state_seq   INTEGER NOT NULL,   -- events folded into the state (applied + late); orders equal event times
    features    TEXT NOT NULL,      -- JSON object, compact UTF-8 (fields: docs/features.md; encoding, read-time evaluation: schemas/feature_row.md)
    sequence    TEXT NOT NULL,      -- JSON list of {item_id, event_type, event_time}, oldest first
    updated_at  INTEGER NOT NULL    -- wall clock of the write (epoch ms)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    stage       TEXT NOT NULL,      -- 'parse' (invalid payload) or 'late' (behind allowed lateness)
    reason      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_run ON dead_letters (run_id, stage);
CREATE TABLE IF NOT EXISTS run_stats (
    run_id      TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       INTEGER NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE TABLE IF NOT EXISTS user_scores (
    user_id       TEXT PRIMARY KEY,
    event_time    INTEGER NOT NULL,  -- event time of the state the scores were computed from
    state_seq     INTEGER NOT NULL,
    model_version TEXT NOT NULL,
    cold_start    INTEGER NOT NULL,  -- 1: popularity top-K (too few events), 0: model output
    embedding     TEXT NOT NULL,     -- JSON list of floats (zeros for cold start)
    topk_items    TEXT NOT NULL,     -- JSON list of item ids, best first
    topk_scores   TEXT NOT NULL,     -- JSON list of floats
    drift         REAL,              -- cosine distance to the user's previous embedding (NULL: none)
    updated_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS item_features (
    item_id     TEXT PRIMARY KEY,
    event_time  INTEGER NOT NULL,
    state_seq   INTEGER NOT NULL,
    features    TEXT NOT NULL,       -- JSON object
    popularity  REAL NOT NULL,       -- decayed interaction score
    updated_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS popular_items (
    scope       TEXT PRIMARY KEY,    -- 'global', 'category:Drama', ...
    event_time  INTEGER NOT NULL,
    items       TEXT NOT NULL,       -- JSON list of item ids, most popular first
    scores      TEXT NOT NULL,       -- JSON list of floats
    updated_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS model_versions (
    model_name    TEXT NOT NULL,
    version       TEXT NOT NULL,
    registered_at INTEGER NOT NULL,  -- epoch ms
    card          TEXT NOT NULL,     -- JSON
    PRIMARY KEY (model_name, version)
);
