"""Python cost of the job's user fold per *touched user* at high cardinality (no Flink).

Every user appears once per bucket batch, as in real traffic with many users: the fold
pays its per-user costs (read the state, fold, render the row, write the state back) for
a single event. The states live in a dict holding the bytes Flink's ``PICKLED_BYTE_ARRAY``
map state holds (``pickle.dumps(value)``), so decoding and encoding are measured
explicitly, as the job's thread-mode state converter does them on every ``get``/``put``.

Each user first gets ``--history`` events (not measured), so the states have the size of
active users; then ``--passes`` passes give every user one more event, in bucket batches of
``--batch`` users, through :func:`udfs.features.bucket_fold.fold_bucket` with the default
config (interactions, anomaly and item records on). Reported per touched user: decode
(``pickle.loads``), encode (``pickle.dumps``), render (features and sequence JSON), parse
(validation of the payload, timed on its own) and the rest (apply + row lines), plus the
stored bytes per user.

Two runs side by side: states in the earlier generic pickle form and in the compact form
(:mod:`udfs.features.state_codec`). ``run(..., wrap=...)`` puts something in front of the
stored states, e.g. a cache of live states.

    python -m bench.fold_cost_bench [--users 20000] [--history 20] [--passes 2] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import pickle
import statistics
import time
from pathlib import Path

import numpy as np

from recstream.config import RecstreamConfig
from udfs.events import try_parse_event
from udfs.features.bucket_fold import escape_key, fold_bucket
from udfs.features.runtime import FoldOptions, FoldRuntime
from udfs.features.user_state import UserState

TYPES = ("view", "view", "view", "view", "click", "click", "like", "add_to_cart", "purchase", "rating", "search",
         "share")


class PickledStates:
    """The job's MapState as seen from Python: values pickled on put, unpickled on get."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.decode_s = 0.0
        self.encode_s = 0.0

    def get(self, key):
        raw = self.data.get(key)
        if raw is None:
            return None
        t = time.process_time()
        v = pickle.loads(raw)
        self.decode_s += time.process_time() - t
        return v

    def __setitem__(self, key, value) -> None:
        t = time.process_time()
        raw = pickle.dumps(value)
        self.encode_s += time.process_time() - t
        self.data[key] = raw


def make_event(rng, uid: str, t: int, n: int) -> dict:
    etype = TYPES[int(rng.integers(0, len(TYPES)))]
    item = int(rng.zipf(1.3)) % 50_000
    cat = item % 40
    ev = {"event_id": f"{uid}-{n}", "user_id": uid, "item_id": f"i{item:05d}", "event_type": etype,
          "event_time": t, "category": f"c{cat:02d}", "tags": [f"t{cat % 7}", f"t{item % 11 + 7}"],
          "context": {"device": "mobile"}}
    if etype in ("view", "click"):
        ev["dwell_ms"] = int(rng.integers(500, 60_000))
    if etype == "rating":
        ev["rating"] = float(rng.integers(1, 11)) / 2
    return ev


def timed_rt(rt: FoldRuntime) -> dict:
    """Wrap the runtime's render methods with timers; returns the accumulator."""
    acc = {"render_s": 0.0}
    features_json, sequence_json = rt.features_json, rt.sequence_json

    def fj(state, params):
        t = time.process_time()
        s = features_json(state, params)
        acc["render_s"] += time.process_time() - t
        return s

    def sj(state):
        t = time.process_time()
        s = sequence_json(state)
        acc["render_s"] += time.process_time() - t
        return s

    rt.features_json, rt.sequence_json = fj, sj
    return acc


def generic_form(state: UserState) -> tuple:
    """The earlier keyed-state form (format 2: the parts pickled as objects), for comparison."""
    return (2,) + tuple(getattr(state, name) for name in UserState.__slots__)


def run(users: int, history: int, passes: int, batch: int, seed: int = 0, states=None, encoding: str = "compact",
        wrap=None) -> dict:
    """One measurement; ``encoding="generic"`` stores states in the earlier form, ``wrap`` (optional)
    puts something in front of the stored states (e.g. a cache of live states)."""
    compact = UserState.__getstate__
    if encoding == "generic":
        UserState.__getstate__ = generic_form
    try:
        return _run(users, history, passes, batch, seed, states, wrap) | {"encoding": encoding}
    finally:
        UserState.__getstate__ = compact


def _run(users: int, history: int, passes: int, batch: int, seed: int, states, wrap) -> dict:
    cfg = RecstreamConfig()
    params = cfg.features.params()
    opts = FoldOptions.from_config(cfg)
    rt = FoldRuntime(opts, params)
    rng = np.random.default_rng(seed)
    states = states if states is not None else PickledStates()
    uids = [f"user-{u:07d}" for u in range(users)]
    t0 = 1_700_000_000_000
    clock = {}
    for uid in uids:  # history: folded directly, stored as the job stores it
        s = UserState(params)
        t = t0 + int(rng.integers(0, 3_600_000))
        for n in range(history):
            t += int(rng.exponential(60_000)) + 1_000
            s.apply_event(make_event(rng, uid, t, n), params, rt)
        clock[uid] = t
        states[uid] = s
    states.decode_s = states.encode_s = 0.0
    acc = timed_rt(rt)
    payloads = []
    for p in range(passes):
        order = rng.permutation(users)
        for u in order:
            uid = uids[u]
            clock[uid] += int(rng.exponential(60_000)) + 1_000
            payloads.append((uid, json.dumps(make_event(rng, uid, clock[uid], history + p))))
    batches = ["\n".join(escape_key(uid) + "\t" + pl for uid, pl in payloads[i:i + batch])
               for i in range(0, len(payloads), batch)]
    target = wrap(states) if wrap is not None else states
    t = time.process_time()
    touched = applied = 0
    for recs in batches:
        res = fold_bucket(recs, target, params, rt, emit_items=opts.emit_items)
        touched += len(res.user_lines)
        applied += res.applied
    total = time.process_time() - t
    t = time.process_time()
    for _, pl in payloads:
        try_parse_event(pl)
    parse = time.process_time() - t
    us = 1e6 / touched
    decode, encode, render = states.decode_s * us, states.encode_s * us, acc["render_s"] * us
    sizes = sorted(len(states.data[uid]) if hasattr(states, "data") else 0 for uid in uids[:2000])
    return {
        "users": users, "history": history, "touched": touched, "applied": applied, "batch_users": batch,
        "us_per_touched_user": round(total * us, 1),
        "decode_us": round(decode, 1), "encode_us": round(encode, 1), "render_us": round(render, 1),
        "parse_us": round(parse * us, 1),
        "apply_and_rest_us": round(total * us - decode - encode - render - parse * us, 1),
        "state_bytes_median": statistics.median(sizes),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--history", type=int, default=20, help="events per user before the measured passes")
    ap.add_argument("--passes", type=int, default=2, help="measured events per user (one per pass)")
    ap.add_argument("--batch", type=int, default=64, help="users per bucket batch")
    ap.add_argument("--out", help="also write the results here (e.g. bench/results/fold_cost.json)")
    args = ap.parse_args()
    runs = [run(args.users, args.history, args.passes, args.batch, encoding=enc) for enc in ("generic", "compact")]
    print(json.dumps(runs, indent=2))
    if args.out:
        from bench.machine import machine_info

        doc = {"benchmark": "fold_cost", "unit": "CPU µs per touched user (time.process_time)",
               "runs": runs, "machine": machine_info()}
        Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
