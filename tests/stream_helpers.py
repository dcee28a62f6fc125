"""One real PyFlink run + one backfill over the same events, shared by
tests/flink_jobs/test_backfill.py and test_items_job.py (made once per session).

The run exercises every issue-#8 part at once: interactions, anomaly (frozen
population baseline learned by a backfill of other events), content interest (an
embeddings file covering most items), item features with popular lists, pseudonymised
user ids (key from a file) and two parallel readers (two partition files).
"""
from __future__ import annotations

import sqlite3

import numpy as np

from recstream.config import load_config
from recstream.replay import partition_of
from recstream.sources.synthetic import SyntheticSpec, replay_lines

SPEC = SyntheticSpec(seed=11, n_users=60, n_items=300, n_events=3000, bot_users=2,
                     late_fraction=0.03, malformed_fraction=0.02)
HISTORY = SyntheticSpec(seed=5, n_users=80, n_items=300, n_events=4000, bot_users=1)
KEY = b"stream-backfill-test-key-0123456789"
_RUN: dict = {}


def write_embeddings_for(items: list[str], path, dim: int = 16, seed: int = 0):
    from udfs.features.embeddings import write_embeddings

    rng = np.random.default_rng(seed)
    m = rng.normal(size=(len(items), dim)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return write_embeddings(path, items, m, {"source": "random unit vectors (test)"})


def stream_and_backfill(tmp_path_factory) -> dict:
    if _RUN:
        return _RUN
    from recstream.backfill import backfill
    from recstream.runner import run_local

    tmp = tmp_path_factory.mktemp("stream_backfill")
    lines = list(replay_lines(SPEC))
    lines[5:5] = ["\x00\x01garbage", '["not", "an", "object"]']
    events_dir = tmp / "events"
    events_dir.mkdir()
    parts = [[], []]
    for line in lines:
        parts[partition_of(line, 2)].append(line)
    for i, part in enumerate(parts):
        (events_dir / f"part-{i}.jsonl").write_text("\n".join(part) + "\n")
    # most items have an embedding (every 7th has none: content_missing counts them)
    items = sorted({f"i{n:05d}" for n in range(SPEC.n_items)})
    write_embeddings_for([i for n, i in enumerate(items) if n % 7], tmp / "emb")
    key_file = tmp / "pseudonym.key"
    key_file.write_bytes(KEY + b"\n")
    common = [f"features.content.embeddings_path={tmp / 'emb'}", f"privacy.key_file={key_file}",
              "privacy.pseudonymize=true", "model.enabled=false", f"job.work_dir={tmp}",
              "job.parallelism=2", "features.items.popular_every_s=0.5",
              "features.anomaly.population_min_weight=1"]  # the learned baseline, not the prior
    # a population baseline learned from other (historical) events, frozen for both runs
    history = tmp / "history.jsonl"
    history.write_text("\n".join(replay_lines(HISTORY)) + "\n")
    hist_cfg = load_config(overrides=common + [f"store.sqlite.path={tmp / 'history.sqlite'}"])
    pop = backfill(hist_cfg, history, population_out=tmp / "population.json").population_file
    common.append(f"features.anomaly.population_file={pop}")

    stream_cfg = load_config(overrides=common + [f"store.sqlite.path={tmp / 'stream.sqlite'}"])
    summary = run_local(stream_cfg, events_dir)
    batch_cfg = load_config(overrides=common + [f"store.sqlite.path={tmp / 'backfill.sqlite'}"])
    bf = backfill(batch_cfg, events_dir)
    _RUN.update(tmp=tmp, lines=lines, events=events_dir, stream_cfg=stream_cfg, batch_cfg=batch_cfg,
                summary=summary, backfill=bf, population=pop)
    return _RUN


def store_rows(cfg, sql: str) -> list:
    """Rows of ``sql`` against the run's SQLite store."""
    con = sqlite3.connect(cfg.store.sqlite.path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
