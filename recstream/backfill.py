"""Batch runs of the job's feature code: ``recstream backfill`` and ``recstream features --as-of``.

``backfill`` folds a historical event file (or a directory of partition files) with
the same code the stream runs (``udfs.features.batch.fold_with_items``: validation,
per-user lateness, ``UserState.apply_event`` with the same optional parts, the item
records and ``ItemAggregate``), opens the same run-time inputs (``FoldRuntime``:
population baseline, item embeddings, pseudonymiser, allow-list) and writes the same
store rows: user features + sequence, dead letters, item features and popular lists.
It writes each user's and item's final state once (the stream writes one row per
batch; the last one is the same). Scores are not computed (the model runs in the
stream only). Lines are read as the job's file source reads them (JSON Lines: ``\\n`` ends a
line, a ``\\r`` before it is dropped, a lone ``\\r`` stays inside its line; invalid UTF-8
becomes U+FFFD and is rejected, docs/events.md), one file after the other; events of one
user must sit in one file, in order, as for the stream.

``export_as_of`` writes point-in-time-correct training rows: for each time T, every
user's row folded from the events with ``event_time <= T`` only (file order kept),
i.e. what the online store would have held at T had the events arrived in event-time
order: features are read as of the user's newest event at or before T, exactly as the
stream writes them. Nothing after T can leak into a row.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from recstream.config import RecstreamConfig
from recstream.replay import replay_files

BATCH = 500


def read_lines(path: Path) -> Iterator[str]:
    """The lines of a replay as the job's file source reads them (``recstream.replay.count_lines``)."""
    for f in replay_files(Path(path)):
        with open(f, "rb") as fh:
            for line in fh:  # binary iteration splits at b"\n" only
                if line.endswith(b"\n"):
                    line = line[:-1]
                if line.endswith(b"\r"):  # one, also on a last line without b"\n" (as Flink does)
                    line = line[:-1]
                yield line.decode("utf-8", errors="replace")


def parse_time(value: str) -> int:
    """Epoch milliseconds from an integer or an ISO-8601 time (UTC unless it says otherwise)."""
    value = value.strip()
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {value!r} (epoch ms or ISO-8601, e.g. 2026-01-01T12:00:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


@dataclass
class BackfillSummary:
    run_id: str
    input_path: Path
    events_in: int = 0
    events_applied: int = 0
    dead_parse: int = 0
    dead_late: int = 0
    users: int = 0
    items: int = 0
    popular_lists: int = 0
    excluded_from_items: int = 0
    population_file: Path | None = None
    wall_s: float = 0.0
    extra: dict = field(default_factory=dict)


def _chunks(rows: Iterable, n: int = BATCH):
    chunk = []
    for r in rows:
        chunk.append(r)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def backfill(cfg: RecstreamConfig, input_path: Path, run_id: str | None = None, store=None,
             population_out: Path | None = None, on_progress: Callable[[str], None] | None = None) -> BackfillSummary:
    """Fold ``input_path`` and write the store rows the stream would write (see the module doc).
    ``store``: an open ``OnlineStore`` (default: the configured one, opened and closed here)."""
    from recstream.store import open_store
    from recstream.store.base import DeadLetter, FeatureRow, ItemRow, PopularItems
    from udfs.features.anomaly import PopulationStats, UserAnomaly
    from udfs.features.batch import fold_with_items
    from udfs.features.bucket_fold import dead_letter_raw, late_reason
    from udfs.features.item_fold import PopularLists
    from udfs.features.runtime import FoldOptions, FoldRuntime, save_population

    t0 = time.monotonic()
    say = on_progress or (lambda _msg: None)
    params = cfg.features.params()
    options = FoldOptions.from_config(cfg)
    rt = FoldRuntime(options, params)
    run_id = run_id or "backfill-" + time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    summary = BackfillSummary(run_id, Path(input_path))

    shadow = None  # learns a baseline for --population-out when the run itself reads a frozen one
    on_applied = None
    if population_out is not None and params.anomaly_on and options.population_mode != "learn":
        shadow = (PopulationStats.for_params(params.anomaly), {})

        def on_applied(event, _verdict):
            users = shadow[1]
            a = users.get(event["user_id"])
            if a is None:
                a = users[event["user_id"]] = UserAnomaly()
            a.apply(event, params.anomaly, shadow[0])

    def counted(lines):
        for line in lines:
            summary.events_in += 1
            yield line

    say(f"folding {input_path}")
    result = fold_with_items(counted(read_lines(input_path)), params, rt, items=options.emit_items,
                             on_applied=on_applied)
    summary.dead_parse, summary.dead_late = len(result.dead), len(result.late)
    summary.events_applied = sum(s.seq - s.late for s in result.states.values())
    summary.users, summary.items = len(result.states), len(result.items)
    summary.excluded_from_items = sum(a.state.excluded for a in result.items.values())

    own = store is None
    st = open_store(cfg.store) if own else store
    try:
        say(f"writing {summary.users} users")
        rows = ((FeatureRow(rt.user_key(uid), s.last_ts, s.seq, rt.features_json(s, params), rt.sequence_json(s)), None)
                for uid, s in result.states.items())
        for chunk in _chunks(rows):
            st.upsert_users(chunk)
        letters = [DeadLetter(run_id, "parse", reason, dead_letter_raw(rt, raw))
                   for raw, reason in result.dead]
        for raw, event, newest in result.late:
            letters.append(DeadLetter(run_id, "late", late_reason(event, params, newest), rt.dead_raw(raw)))
        for chunk in _chunks(letters):
            st.add_dead_letters(chunk)
        if options.emit_items:
            say(f"writing {summary.items} items")
            items_cfg = cfg.features.items
            emb = rt.embeddings if items_cfg.store_embedding else None
            lists = PopularLists(params.items, items_cfg.top_k)
            item_rows = []
            for item_id, agg in result.items.items():
                row = agg.row(item_id, params.items, emb)
                item_rows.append(ItemRow(*row))
                lists.update(item_id, agg.popularity_key(), agg.cat, row[1])
            for chunk in _chunks(item_rows):
                st.upsert_items(chunk)
            popular = [PopularItems(*lst) for lst in lists.lists()]
            st.set_popular_items(popular)
            summary.popular_lists = len(popular)
        st.set_run_stats(run_id, {"events_applied.0": summary.events_applied, "dead_parse.0": summary.dead_parse,
                                  "dead_late.0": summary.dead_late, "users_updated.0": summary.users,
                                  "feature_rows.0": summary.users, "item_rows.0": summary.items, "finished.0": 1})
    finally:
        if own:
            st.close()
    if population_out is not None:
        learned = shadow[0] if shadow is not None else rt.population
        if learned is None:
            raise ValueError("--population-out needs features.anomaly.enabled=true")
        summary.population_file = save_population(learned, population_out)
    summary.wall_s = time.monotonic() - t0
    return summary


def export_as_of(cfg: RecstreamConfig, input_path: Path, as_of: list[int], out_path: Path) -> dict:
    """Write one JSON line per (T, user): ``{as_of, user_id, event_time, state_seq, staleness_ms,
    features, sequence}`` from the events with ``event_time <= T``; users sorted by stored key.
    The features are those as of T itself (``udfs.features.as_of``: window counts and decayed
    values at T, ``features.as_of`` = ``features.windows_as_of`` = T), as an online read at T
    returns them; ``event_time`` is the user's newest event up to T."""
    from udfs.events import try_parse_event
    from udfs.features.as_of import features_as_of
    from udfs.features.batch import fold_events
    from udfs.features.runtime import FoldOptions, FoldRuntime

    params = cfg.features.params()
    options = FoldOptions.from_config(cfg)
    valid = []
    for line in read_lines(input_path):
        event, _ = try_parse_event(line)
        if event is not None:
            valid.append(event)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    counts = {}
    with out_path.open("w", encoding="utf-8") as fh:
        for t in sorted(set(as_of)):
            rt = FoldRuntime(options, params)  # fresh per T: a learned population sees events <= T only
            states, _ = fold_events((e for e in valid if e["event_time"] <= t), params, rt)
            rows = sorted((rt.user_key(uid), s) for uid, s in states.items())
            for key, s in rows:
                fh.write(json.dumps({
                    "as_of": t, "user_id": key, "event_time": s.last_ts, "state_seq": s.seq,
                    "staleness_ms": t - s.last_ts,
                    "features": features_as_of(json.loads(rt.features_json(s, params)), t, s.last_ts),
                    "sequence": s.sequence_snapshot(),
                }, separators=(",", ":")) + "\n")
            counts[t] = len(rows)
    return {"out": str(out_path), "rows": sum(counts.values()), "rows_per_as_of": counts, "events": len(valid)}
