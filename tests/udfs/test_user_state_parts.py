"""The interaction, anomaly and content parts folded inside UserState: same values as the
standalone building blocks, switchable, bounded, and safe across pickling and old states."""
import dataclasses
import json
import pickle

import numpy as np
from recstream.sources.synthetic import SyntheticSpec, replay_lines
from udfs.features.anomaly import AnomalyParams, PopulationStats, UserAnomaly
from udfs.features.batch import fold_events
from udfs.features.content_interest import ContentInterest
from udfs.features.interactions import UserInteractions, funnel_ratios
from udfs.features.params import FeatureParams
from udfs.features.user_state import LATE, UserState

ON = FeatureParams(interactions_on=True, anomaly_on=True, content_on=True)
# arrival order with disorder and late arrivals (no malformed lines)
EVENTS = [json.loads(line) for line in replay_lines(SyntheticSpec(seed=3, n_users=30, n_items=120, n_events=2500,
                                                                  bot_users=1, late_fraction=0.03,
                                                                  malformed_fraction=0.0))]


class Ctx:
    def __init__(self, population=None, embeddings=None):
        self.population, self.embeddings = population, embeddings


def embeddings(items, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for i in sorted(items):
        v = rng.normal(size=dim).astype(np.float32)
        out[i] = v / np.linalg.norm(v)
    return out


EMB = embeddings({e["item_id"] for e in EVENTS if int(e["item_id"][1:]) % 5})  # every 5th item: no embedding


def test_parts_equal_the_standalone_blocks():
    ctx = Ctx(embeddings=EMB)
    states, late = fold_events(EVENTS, ON, ctx)
    assert late  # the reference below must skip late events exactly as the state does
    late_ids = {e["event_id"] for e in late}
    ref: dict = {}
    for e in EVENTS:
        if e["event_id"] in late_ids:
            continue
        inter, anom, content = ref.setdefault(e["user_id"], (UserInteractions(), UserAnomaly(), ContentInterest()))
        inter.apply(e, ON.interactions)
        anom.apply(e, ON.anomaly, None)
        content.apply(e, EMB, ON.content)
    for uid, s in states.items():
        f = s.features(ON)
        inter, anom, content = ref[uid]
        assert {k: f[k] for k in ("user_items", "user_categories")} == inter.features(ON.interactions, s.last_ts)
        assert f["anomaly"] == anom.features()
        want = content.features(ON.content, s.last_ts)
        assert (f["content_weight"], f["content_missing"]) == (want["content_weight"], want["content_missing"])
        if want["content_interest"] is None:
            assert f["content_interest"] is None
        else:  # stored with 6 decimals
            np.testing.assert_allclose(f["content_interest"], want["content_interest"], rtol=0, atol=5e-7)
        c = f["counts"]
        assert f["funnel"] == funnel_ratios(c.get("view", 0), c.get("click", 0), c.get("purchase", 0))
        json.dumps(f)
    assert any(s.features(ON)["content_missing"] for s in states.values())


def test_apply_event_returns_verdicts_and_late():
    p = FeatureParams(anomaly_on=True, allowed_lateness_ms=1000, anomaly=AnomalyParams(min_events=2))
    s = UserState(p)
    t0 = 1_767_225_600_000
    ev = lambda t: {"event_id": str(t), "user_id": "u", "item_id": "i", "event_type": "click", "event_time": t0 + t}
    # 20 clicks in one minute against the population prior 2 +- 2: z = (x - 2) / 2
    verdicts = [s.apply_event(ev(k * 10), p) for k in range(20)]
    assert verdicts[:7] == [0] * 7 and verdicts[7] == 1 and verdicts[13] == 2  # warn from x = 8, block from 14
    assert s.apply_event(ev(-5000), p) == LATE and s.late == 1
    assert s.features(p)["anomaly"]["block_events"] == s.anom.block_events


def test_parts_off_cost_nothing_and_are_absent():
    off = FeatureParams()
    s = UserState(off)
    for e in EVENTS[:50]:
        s.apply(e, off)
    assert (s.inter, s.anom, s.content) == (None, None, None)
    assert not {"user_items", "anomaly", "content_interest", "funnel"} & set(s.features(off))
    # switching a part on later starts it from the next event; switching it off drops it
    on = FeatureParams(interactions_on=True)
    s.apply(dict(EVENTS[50], event_time=EVENTS[49]["event_time"] + 1), on)
    assert s.features(on)["user_items"][0]["count"] == 1
    s.apply(dict(EVENTS[51], event_time=EVENTS[49]["event_time"] + 2), off)
    assert s.inter is None


def test_pickle_mid_stream_changes_nothing_and_state_stays_small():
    ctx = Ctx(population=PopulationStats.for_params(ON.anomaly).freeze(), embeddings=EMB)
    uid = EVENTS[0]["user_id"]
    mine = [e for e in EVENTS if e["user_id"] == uid]
    a = UserState(ON)
    b = UserState(ON)
    for e in mine:
        a.apply_event(e, ON, ctx)
        b = pickle.loads(pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL))  # as the keyed state does per batch
        b.apply_event(e, ON, ctx)
    assert json.dumps(a.features(ON)) == json.dumps(b.features(ON))
    with_parts = len(pickle.dumps(a, protocol=pickle.HIGHEST_PROTOCOL))
    base = UserState(FeatureParams())
    for e in mine:
        base.apply(e, FeatureParams())
    without = len(pickle.dumps(base, protocol=pickle.HIGHEST_PROTOCOL))
    # the parts are bounded: interactions 20 items / 24 categories, anomaly 15 numbers, one 8-float vector
    assert without < with_parts < without + 3000, (without, with_parts)


def test_states_pickled_before_the_parts_existed_still_load():
    p = FeatureParams()
    s = UserState(p)
    for e in EVENTS[:20]:
        s.apply(e, p)
    base_slots = UserState.__slots__[:13]
    old = UserState.__new__(UserState)
    old.__setstate__((None, {k: getattr(s, k) for k in base_slots}))  # pickle's default slots state
    assert old.features(p) == s.features(p) and old.inter is None
    on = dataclasses.replace(p, interactions_on=True, anomaly_on=True)
    old.apply(dict(EVENTS[20], user_id=EVENTS[0]["user_id"]), on)
    assert old.features(on)["anomaly"]["rate_bucket_events"] == 1

