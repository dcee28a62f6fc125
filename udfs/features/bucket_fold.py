"""Fold one micro-batch of a user *bucket* (many users) into their states: framework-free.

The job routes events by ``bucket = |hash(user_id)| mod job.user_buckets`` (Flink SQL) and
hands one Python call all the records of a bucket's micro-batch window, so the per-call cost
of PyFlink (~50 µs plus Table↔DataStream conversions, ~1 ms per row, profiled) is
paid per bucket batch instead of per user. Each record is ``<escaped routing id> TAB
[origin TAB] payload``; records are newline-separated and in arrival order, so a user's own
events keep their order.

:func:`fold_bucket` groups the records by user, validates and folds each user's events into
its :class:`UserState` (from ``states``, a mapping with ``get`` and item assignment: the
bucket's Flink ``MapState`` in the job, a dict in tests and benchmarks) and returns the rendered rows. States are
stored under :meth:`FoldRuntime.user_key`, i.e. the pseudonym when pseudonymisation is on,
so the job's long-lived keyed state holds no raw user ids.

Rows between the fold, the scoring UDF, the drift step and the writers are plain strings
(one line per user, newline-joined per bucket batch) so that a bucket batch crosses each
Flink hop, including the Table API round trip of the pandas UDF, as one record:

* user line (fold → feature writer): ``json(user key) TAB last_ts TAB state_seq TAB n_applied
  TAB event_count TAB features json TAB sequence json`` (every field is a number or JSON text,
  which never holds a raw tab or newline);
* score-key line (fold → scoring → drift → score writer): ``json(user key) TAB last_ts TAB
  state_seq``, and beside it the score-input line ``json([item_ids, new_item_ids, last_ts,
  event_count])`` (``new_item_ids``: the items of the events this batch applied, in arrival order). The scoring path carries only these short lines, never the features.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import orjson

from udfs.events import try_parse_event
from udfs.features.anomaly import excluded
from udfs.features.item_fold import encode_record
from udfs.features.params import FeatureParams
from udfs.features.user_state import LATE, TYPE_INDEX, UserState

MAX_RAW_IN_DEAD_LETTER = 16 * 1024
_REPLACEMENTS = re.compile("\ufffd+")


def late_reason(event: dict, params: FeatureParams, newest: int) -> str:
    """The dead-letter reason of a late event (stream and backfill write the same)."""
    return (f"late: event_time {event['event_time']} is more than {params.allowed_lateness_ms} ms "
            f"behind the user's newest event time {newest}")


def dead_letter_raw(rt, payload: str) -> str:
    """The raw text kept with a parse dead letter, the same in the stream and in a backfill:
    a run of U+FFFD as one (Java's and Python's UTF-8 decoders replace some bad byte sequences
    with different numbers of them), at most ``MAX_RAW_IN_DEAD_LETTER`` characters, a leading
    U+FEFF written as the text ``\\ufeff`` (a string that opens with U+FEFF loses it where the
    job hands it between Java and Python), then ``rt.dead_raw`` (pseudonymisation)."""
    if "\ufffd" in payload:
        payload = _REPLACEMENTS.sub("\ufffd", payload)
    raw = payload[:MAX_RAW_IN_DEAD_LETTER]
    if raw[:1] == "\ufeff":
        raw = "\\ufeff" + raw[1:]
    return rt.dead_raw(raw)


def escape_key(user_id: str) -> str:
    """Injective escaping of a routing id so it can sit in front of a tab in a newline-joined
    record. The SQL in ``flink_jobs.feature_job.bucket_batch_table`` applies the same four
    replacements (backslash first) to ``JSON_VALUE(payload, '$.user_id')``. U+FEFF is escaped
    because a record may open the batch string, and a string that opens with U+FEFF loses it
    where the job hands it between Java and Python (it is taken for a byte-order mark)."""
    return (user_id.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\ufeff", "\\ufeff"))


def group_records(records: str, with_origin: bool = False) -> dict[str, list[tuple[str, str]]]:
    """``{escaped routing id: [(origin, payload), ...]}`` in arrival order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for rec in records.split("\n"):
        key, _, rest = rec.partition("\t")
        origin = ""
        if with_origin:
            origin, _, rest = rest.partition("\t")
        group = groups.get(key)
        if group is None:
            groups[key] = [(origin, rest)]
        else:
            group.append((origin, rest))
    return groups


@dataclass
class BucketResult:
    """What one bucket batch produced (see the module docstring for the line formats)."""
    user_lines: list[str] = field(default_factory=list)
    score_lines: list[str] = field(default_factory=list)
    score_keys: list[str] = field(default_factory=list)  # per score line: the user's score_key_line
    # score_input="rows": per user (store key, last_ts, state_seq, item_ids, new_item_ids, event_count)
    score_rows: list[tuple] = field(default_factory=list)
    dead: list[tuple[str, str, str, str]] = field(default_factory=list)  # stage, reason, raw, origin
    item_records: list[str] = field(default_factory=list)
    seen: int = 0
    applied: int = 0
    invalid: int = 0
    late: int = 0
    excluded: int = 0
    newest_ts: int | None = None
    last_state: UserState | None = None  # for the state-size gauge


def user_line(key: str, state: UserState, applied: int, features_json: str, sequence_json: str) -> str:
    return "\t".join((orjson.dumps(key).decode(), str(state.last_ts), str(state.seq), str(applied),
                      str(state.seq - state.late), features_json, sequence_json))


def score_key_line_of(key: str, last_ts: int, state_seq: int) -> str:
    """``<JSON user key> TAB last_ts TAB state_seq``: which state a score line was computed from."""
    return f"{orjson.dumps(key).decode()}\t{last_ts}\t{state_seq}"


def score_key_line(key: str, state: UserState) -> str:
    return score_key_line_of(key, state.last_ts, state.seq)


def parse_score_key_line(line: str) -> tuple[str, int, int]:
    k, ts, seq = line.split("\t")
    return json.loads(k), int(ts), int(seq)


def user_line_key(line: str) -> str:
    """The user key of a user line, without decoding the rest."""
    return json.loads(line[:line.index("\t")])


def parse_user_line(line: str) -> tuple[str, int, int, int, int, str, str]:
    """(user key, last_ts, state_seq, n_applied, event_count, features json, sequence json)."""
    k, ts, seq, applied, count, features, sequence = line.split("\t")
    return json.loads(k), int(ts), int(seq), int(applied), int(count), features, sequence


def fold_bucket(records: str, states, params: FeatureParams, rt, with_origin: bool = False,
                emit_items: bool = False, score_input: bool | str = True) -> BucketResult:
    """Validate and fold one bucket batch; ``rt`` is the worker's ``FoldRuntime``. ``score_input``:
    True for the score-key and score-input lines of the scoring UDF, ``"rows"`` for the same as
    tuples (``score_rows``: scoring in the fold), False for none."""
    out = BucketResult()
    exclude = params.anomaly_on
    for key, recs in group_records(records, with_origin).items():
        state = None
        skey = None  # the state/store key of this user (pseudonym when that is on)
        applied = 0
        new_items = []  # item ids of this batch's applied events, in arrival order
        for origin, payload in recs:
            out.seen += 1
            event, reason = try_parse_event(payload)
            if event is not None and escape_key(event["user_id"]) != key:
                # the routing id (SQL JSON_VALUE) and the parsed id differ, e.g. duplicate keys:
                # the event may sit in the wrong bucket, so it must not touch any state
                event, reason = None, rt.ambiguous_reason(key, event["user_id"])
            if event is None:
                out.invalid += 1
                out.dead.append(("parse", reason, dead_letter_raw(rt, payload), origin))
                continue
            if state is None:
                skey = rt.user_key(event["user_id"])
                state = states.get(skey)
                if state is None:
                    state = UserState(params)
            verdict = state.apply_event(event, params, rt)
            if verdict != LATE:
                applied += 1
                new_items.append(event["item_id"])
                if emit_items:
                    excl = exclude and excluded(verdict, params.anomaly)
                    out.excluded += excl
                    out.item_records.append(encode_record(event, TYPE_INDEX[event["event_type"]], excl))
            else:
                out.late += 1
                out.dead.append(("late", late_reason(event, params, state.last_ts), rt.dead_raw(payload), origin))
        if state is None:
            continue
        out.applied += applied
        # late-only batches still change state (its late counter): always write and emit
        states[skey] = state
        out.last_state = state
        if state.last_ts is not None and (out.newest_ts is None or state.last_ts > out.newest_ts):
            out.newest_ts = state.last_ts
        out.user_lines.append(user_line(skey, state, applied, rt.features_json(state, params), rt.sequence_json(state)))
        if score_input == "rows":
            out.score_rows.append((skey, state.last_ts, state.seq, state.sequence.item_ids(), new_items,
                                   state.seq - state.late))
        elif score_input:
            out.score_keys.append(score_key_line(skey, state))
            out.score_lines.append(orjson.dumps([state.sequence.item_ids(), new_items, state.last_ts,
                                                 state.seq - state.late]).decode())
    return out
