"""The compact keyed-state form of UserState (udfs.features.state_codec): exact round trips
(a stream that round-trips every state between events equals a fold that never does), small
ints and names that need the fallbacks, and states written in the earlier generic form."""
import base64
import json
import pickle
import zlib

import numpy as np
from recstream.sources.synthetic import SyntheticSpec, replay_lines
from udfs.features import state_codec
from udfs.features.params import FeatureParams
from udfs.features.user_state import LATE, UserState

ON = FeatureParams(interactions_on=True, anomaly_on=True, content_on=True)
T = 1_700_000_000_000
M = 60_000
EVENTS = [json.loads(line) for line in replay_lines(SyntheticSpec(seed=5, n_users=25, n_items=150, n_events=3000,
                                                                  bot_users=1, late_fraction=0.03,
                                                                  malformed_fraction=0.0))]


class Ctx:
    population = None

    def __init__(self, embeddings=None):
        self.embeddings = embeddings


def emb_table(items, dim=8):
    rng = np.random.default_rng(1)
    out = {}
    for i in sorted(items):
        v = rng.normal(size=dim).astype(np.float32)
        out[i] = v / np.linalg.norm(v)
    return out


CTX = Ctx(emb_table({e["item_id"] for e in EVENTS}))


def internals(s: UserState):
    """Every value a state holds, parts included (dict orders too: eviction depends on them)."""
    return (s.seq, s.late, s.first_ts, s.last_ts, s.last_gap_ms, s.totals, s.dwell_total, s.rating_sum,
            s.rating_count,
            [(w.bucket_ms, w.n_buckets, w.n_types, w.head, list(w.buckets.items())) for w in s.windows],
            (s.interest.k_short, s.interest.k_long, s.interest.max_categories, list(s.interest.cats.items())),
            (s.sequence.n, s.sequence.times, s.sequence.items),
            (s.sessions.gap_ms, s.sessions.count, s.sessions.n_events, s.sessions.open),
            None if s.inter is None else (list(s.inter.items.items()), list(s.inter.cats.items()), s.inter.last_ts),
            None if s.anom is None else s.anom.__getstate__(),
            None if s.content is None else (s.content.__getstate__()))


def test_the_pickled_state_is_the_compact_form():
    s = UserState(ON)
    for e in EVENTS[:40]:
        s.apply_event(dict(e, user_id="u"), ON, CTX)
    assert s.__getstate__()[0] == state_codec.FORMAT == 3
    generic = pickle.dumps((2,) + tuple(getattr(s, n) for n in UserState.__slots__))
    assert len(pickle.dumps(s)) < 0.8 * len(generic)


def test_round_trip_between_every_event_equals_a_fold_in_memory():
    kept: dict[str, UserState] = {}
    stored: dict[str, bytes] = {}
    late = 0
    for e in EVENTS:
        uid = e["user_id"]
        mem = kept.setdefault(uid, UserState(ON))
        rt = pickle.loads(stored[uid]) if uid in stored else UserState(ON)
        v1, v2 = mem.apply_event(e, ON, CTX), rt.apply_event(e, ON, CTX)
        assert v1 == v2
        late += v1 == LATE
        stored[uid] = pickle.dumps(rt)
    assert late
    for uid, mem in kept.items():
        back = pickle.loads(stored[uid])
        assert internals(back) == internals(mem)
        assert back.features(ON) == mem.features(ON) and back.sequence_snapshot() == mem.sequence_snapshot()


def test_large_counts_nul_in_names_and_many_buckets_round_trip():
    p = FeatureParams(interactions_on=True, anomaly_on=True, buckets_per_window=300)
    s = UserState(p)
    for k in range(700):  # > 255 events in one bucket of every window
        s.apply_event({"event_id": f"b{k}", "user_id": "u", "item_id": f"i\x00{k % 3}", "event_type": "click",
                       "event_time": T + k, "category": "a\x00b", "tags": ["x\x00", "y"],
                       "dwell_ms": 86_400_000}, p)
    for k in range(400):  # bucket offsets beyond 255 in the 24 h window (300 buckets of 4.8 min)
        s.apply_event({"event_id": f"c{k}", "user_id": "u", "item_id": "j", "event_type": "view",
                       "event_time": T + 1_000 + k * 200_000}, p)
    t = s.__getstate__()
    assert any(w[5] == "Q" for w in t[10]) and any(isinstance(w[4], list) for w in t[10])
    back = pickle.loads(pickle.dumps(s))
    assert internals(back) == internals(s) and back.features(p) == s.features(p)


def test_an_empty_state_round_trips():
    s = UserState(ON)
    back = pickle.loads(pickle.dumps(s))
    assert internals(back) == internals(s)


# a UserState with every part (content from 4-d embeddings) pickled in the generic form (format 2),
# zlib + base64: the 6 events of old_events() below
OLD_GENERIC = (
    "eNp1VE9M01AYf926bmQCg4EYMOhxHJzhjyQmhNWMWLcyLoTEiymle9A6aHFtM3ZA50GQ8TwYnkcvHvTigZskJsLVA9GDiYnxoBFj"
    "ghejFzzhe/0ztwXapn39vu99v6+/7/e1wj7Jh4BzoHN2ft5MzkPZsovQTNomLEqmJVsQo5YZ8jLtrLfwwH2cEAMiJ4IqB9Tv7zaZ"
    "KlcZrr7fZLJ7bAnccrwMOYF3BzDHXxBSRy6OyJAI1N0IVtL0vFEyMWqdXtTymr6QNmzdMl20qVWyoWXOVgrQkpZMnHsYRy265BpM"
    "LI6hsC5Z5WVI1hEU9u2rOLscmuii9QCnFuCf0ESsCuW8G2Cv4Tk14uGo0dzsoXpGHFNbxYjaRnK8ndlmTsyhdji+pu1Z8Lcb1CdI"
    "ZDeDnQ4rTG2/y0r2Uc0B6tPD7JbnaMa0CSb1UUyIzjZyqOkWJE8Lo/YJqMhlmM/4lv80hguSqRpFCwvj5Y8vHjwesBFXkBYNfYFY"
    "4tv3nr16E0NtS/KKpJBuLxhFjbLKI5a8UkoTKKAMYlKbwIPr62vtX3cFPvxpta2HifgqgChgeSHR17evjGp3Bb5HT18d+dZeF6IM"
    "uSHsZGk0PvJS4IOjx+efRvqr3F4y7oQEFbDixKS+uMqpLarc7EQnjbEpEc08mPCODXWFyDY0KZvWlC9ZRhzyBYuYDE537X1gwMXd"
    "AKjcSIDZQwCoejHq0AYBvYaANuzcB3GaA0wIsAFsnYRmmpqhE+lGpv2lC5jlS31ADIoc+Qb/w/0n7Sqk2XpP6KGsWG7GGB27TL3J"
    "yex0QXP4EwM+X45CWFcxhF5t2HEzPlVkZryJpDoifqdDYtAvKLcTJVPrzS20qZQHTg8gPd8/mOnr/AnVS6dWIaSO/9wUMwe/oXr5"
    "9FqE1C+3qdD2odYJL03/B1k3luTFMkZRSsk1783jmU6hyGzUMgnAO0S2nu8Nf4xqftqA/kYgxSB065ZUN0xp19Q4TIl07OjWj9Tz"
    "8V7+83IlRbNhgY/FCvulnfHm/6LIECRyJf8BQgLHAQ=="
)
OLD_EMB = Ctx({"i1": np.array([0.6, 0.8, 0, 0], np.float32), "i2": np.array([0, 0, 1, 0], np.float32)})


def old_events():
    out = []
    for k, (dt, et, item, cat) in enumerate([(0, "view", "i1", "c1"), (2 * M, "click", "i1", "c1"),
                                             (5 * M, "rating", "i2", "c2"), (50 * M, "purchase", "i2", "c2"),
                                             (49 * M, "view", "i3", "c\x00x"), (3 * 3_600_000, "like", "i1", "c1")]):
        e = {"event_id": f"e{k}", "user_id": "u", "item_id": item, "event_type": et, "event_time": T + dt,
             "category": cat, "tags": ["t1", cat]}
        if et in ("view", "click"):
            e["dwell_ms"] = 1000 * (k + 1)
        if et == "rating":
            e["rating"] = 1.5
        out.append(e)
    return out


def test_a_state_in_the_generic_form_restores_continues_and_is_rewritten_compact():
    raw = zlib.decompress(base64.b64decode(OLD_GENERIC))
    old = pickle.loads(raw)
    fresh = UserState(ON)
    for e in old_events():
        fresh.apply_event(e, ON, OLD_EMB)
    assert internals(old) == internals(fresh)
    nxt = {"event_id": "n", "user_id": "u", "item_id": "i2", "event_type": "view", "event_time": T + 4 * 3_600_000,
           "category": "c2", "dwell_ms": 5}
    assert old.apply_event(nxt, ON, OLD_EMB) == fresh.apply_event(nxt, ON, OLD_EMB)
    again = pickle.dumps(old)
    assert pickle.loads(again).__getstate__()[0] == 3 and len(again) < len(raw)
    assert internals(pickle.loads(again)) == internals(fresh)
    assert pickle.loads(again).features(ON) == fresh.features(ON)
