"""The floor Flink's overhead is judged against: the job's work in one plain Python process.

Reads raw payloads in chunks (a chunk stands for one micro-batch window of the job), and
per chunk does what the job does per window, with the same framework-free code:
validate + fold each event into its user's ``UserState`` (same ``FoldRuntime``: interactions,
anomaly, content parts as configured), fold the applied events into their items'
``ItemAggregate`` and upsert the touched items, score the users touched in the chunk once
each (coalescing) with the same ``Scorer`` in batches of ``model.batch_size``, add the
interest drift, and upsert each touched user's features + scores into the same store.
No threads, no Flink, no serialisation between stages.

``run_inmemory`` is the ceiling instead: the same events, parsed beforehand (timed apart), folded
into live ``UserState`` objects in a dict with the job's ``FoldRuntime`` (so the same feature
parts as configured), and nothing else: no features rendered, no item path, no store, no model.
"""
from __future__ import annotations

import gc
import json
import time
from pathlib import Path

from recstream.config import RecstreamConfig
from recstream.store.base import FeatureRow, ItemRow, ScoreRow
from recstream.store.factory import open_store
from udfs.events import try_parse_event
from udfs.features.anomaly import excluded
from udfs.features.item_fold import ItemAggregate, item_record
from udfs.features.runtime import FoldOptions, FoldRuntime
from udfs.features.user_state import LATE, TYPE_INDEX, UserState
from udfs.inference import Scorer, cosine_distance


def run_plain(cfg: RecstreamConfig, lines: list[str], chunk: int = 4000) -> dict:
    """Process ``lines`` as the job would; returns counts and seconds (store writes included)."""
    params = cfg.features.params()
    rt = FoldRuntime(FoldOptions.from_config(cfg), params)
    items_on = cfg.features.items.enabled
    scorer = None
    if cfg.model.active():
        scorer = Scorer.load(cfg.model.path, cfg.model.provider, cfg.model.gpu_mem_limit_mb,
                             threads=cfg.model.threads, spin=cfg.model.spin,
                             cold_start_min_events=cfg.model.cold_start_min_events)
    store = open_store(cfg.store)
    states: dict[str, UserState] = {}
    aggs: dict[str, ItemAggregate] = {}
    prev_emb: dict[str, list] = {}
    applied = dead = late = rows = scored = 0
    exclude = params.anomaly_on
    t0 = time.perf_counter()
    for start in range(0, len(lines), chunk):
        touched: dict[str, int] = {}  # user -> events applied in this chunk
        touched_items: set[str] = set()
        for raw in lines[start:start + chunk]:
            event, _reason = try_parse_event(raw)
            if event is None:
                dead += 1
                continue
            uid = event["user_id"]
            state = states.get(uid)
            if state is None:
                state = states[uid] = UserState(params)
            verdict = state.apply_event(event, params, rt)
            if verdict == LATE:  # the state changed (its late counter): rewritten, as the job does
                late += 1
                touched.setdefault(uid, 0)
                continue
            applied += 1
            touched[uid] = touched.get(uid, 0) + 1
            if items_on:
                iid = event["item_id"]
                agg = aggs.get(iid)
                if agg is None:
                    agg = aggs[iid] = ItemAggregate(params.items)
                agg.apply(item_record(event, TYPE_INDEX[event["event_type"]],
                                      exclude and excluded(verdict, params.anomaly)), params.items)
                touched_items.add(iid)
        if touched_items:
            out = []
            for iid in touched_items:
                item, event_time, seq, features, popularity = aggs[iid].row(iid, params.items, None)
                out.append(ItemRow(item, event_time, seq, features, popularity))
            store.upsert_items(out)
        users = list(touched)
        scores = [None] * len(users)
        if scorer is not None:
            bs = cfg.model.batch_size
            for b in range(0, len(users), bs):
                part = users[b:b + bs]
                seqs = [states[u].sequence.item_ids() for u in part]
                for u, seq in zip(part, seqs):
                    if touched[u]:
                        scorer.observe_items(seq[-touched[u]:], states[u].last_ts)
                for j, r in enumerate(scorer.score(seqs, [states[u].seq - states[u].late for u in part])):
                    scores[b + j] = r
        batch = []
        for u, r in zip(users, scores):
            s = states[u]
            key = rt.user_key(u)
            score_row = None
            if r is not None:
                drift = None
                if not r.cold_start:
                    drift = cosine_distance(prev_emb.get(u), r.embedding)
                    prev_emb[u] = r.embedding
                score_row = ScoreRow(key, s.last_ts, s.seq, scorer.model.version, r.cold_start, r.embedding,
                                     r.items, r.scores, drift)
                scored += 1
            batch.append((FeatureRow(key, s.last_ts, s.seq, rt.features_json(s, params), rt.sequence_json(s)),
                          score_row))
        if batch:
            store.upsert_users(batch)
            rows += len(batch)
    seconds = time.perf_counter() - t0
    store.close()
    return {"events": len(lines), "applied": applied, "dead": dead, "late": late, "feature_rows": rows,
            "scored_rows": scored, "seconds": seconds, "events_per_s": len(lines) / seconds, "chunk": chunk}


def run_inmemory(cfg: RecstreamConfig, lines: list[str]) -> dict:
    """Fold ``lines`` into in-memory user states. Payloads are parsed and validated first, timed
    on their own (``parse_seconds``); ``events_per_s`` is the fold alone over all lines, new users'
    states created on the way (``cpu_events_per_s``: on this process's CPU time, which other
    processes on a shared machine do not stretch). Returns counts, seconds and the states (for the model's raw rate
    on the users' sequences and state sizes)."""
    params = cfg.features.params()
    rt = FoldRuntime(FoldOptions.from_config(cfg), params)
    t0 = time.perf_counter()
    events = [e for e, _reason in map(try_parse_event, lines) if e is not None]
    parse_seconds = time.perf_counter() - t0
    states: dict[str, UserState] = {}
    applied = late = 0
    # objects that predate the loop (the payloads, the parsed events, a caller's data) are not its
    # work: kept out of the cyclic collector's scans, so the rate does not depend on what else is alive
    gc.freeze()
    t0, c0 = time.perf_counter(), time.process_time()
    for event in events:
        uid = event["user_id"]
        state = states.get(uid)
        if state is None:
            state = states[uid] = UserState(params)
        if state.apply_event(event, params, rt) == LATE:
            late += 1
        else:
            applied += 1
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    gc.unfreeze()
    return {"events": len(lines), "applied": applied, "dead": len(lines) - len(events), "late": late,
            "users": len(states), "seconds": seconds, "events_per_s": len(lines) / seconds,
            "cpu_seconds": cpu_seconds, "cpu_events_per_s": len(lines) / cpu_seconds,
            "parse_seconds": parse_seconds, "parse_events_per_s": len(lines) / parse_seconds, "states": states}


def read_lines(path: Path) -> list[str]:
    return Path(path).read_text().splitlines()


if __name__ == "__main__":  # pragma: no cover - manual check
    import sys

    from recstream.config import load_config

    c = load_config(overrides=sys.argv[2:])
    print(json.dumps(run_plain(c, read_lines(Path(sys.argv[1])))))
