"""Sessions are a function of the user's event times: any arrival order the lateness check
accepts gives the same session features, an out-of-order event that bridges a gap merges two
sessions, the kept intervals stay bounded, and states pickled in the earlier layout restore."""
import base64
import pickle
import random
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from udfs.features.batch import fold_events
from udfs.features.params import FeatureParams
from udfs.features.sessions import Sessions
from udfs.features.user_state import UserState

M = 60_000
GAP, LATE = 1_000, 3_000
P = FeatureParams(session_gap_ms=GAP, allowed_lateness_ms=LATE)


def ev(t, dwell=0, etype="view"):
    return {"event_id": f"e{t}", "user_id": "u", "item_id": "i", "event_type": etype, "event_time": t,
            "dwell_ms": dwell}


def reference(events):
    """Sessions of the events sorted by time, split where consecutive times differ by more than GAP."""
    evs = sorted(events, key=lambda e: e["event_time"])
    sessions = []
    for e in evs:
        if sessions and e["event_time"] - sessions[-1][-1]["event_time"] <= GAP:
            sessions[-1].append(e)
        else:
            sessions.append([e])
    cur = sessions[-1]
    return {"count": len(sessions), "current_events": len(cur),
            "current_duration_ms": cur[-1]["event_time"] - cur[0]["event_time"],
            "current_dwell_ms": sum(e["dwell_ms"] for e in cur), "avg_events": len(evs) / len(sessions)}


def session_of(events):
    states, late = fold_events(events, P)
    assert not late  # the arrival orders below never make an event late
    return states["u"].features(P)["session"]


times = st.lists(st.integers(0, LATE), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(times, st.randoms(use_true_random=False))
def test_any_order_within_lateness_gives_the_same_sessions(ts, rnd):
    events = [ev(t, dwell=i % 7) for i, t in enumerate(ts)]  # all within LATE of each other: none late
    shuffled = events[:]
    rnd.shuffle(shuffled)
    assert session_of(shuffled) == session_of(events) == reference(events)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4 * GAP), st.integers(0, LATE), st.integers(0, 50)),
                min_size=1, max_size=60))
def test_long_streams_with_bounded_disorder_match_the_sorted_reference(steps):
    # times drift forward (steps up to 4 gaps, so many sessions are closed and dropped); each event
    # arrives up to LATE after its time, so no arrival order makes one late
    t, events = 0, []
    for step, delay, dwell in steps:
        t += step
        events.append((t + delay, ev(t, dwell)))
    arrival = [e for _, e in sorted(events, key=lambda x: x[0])]
    assert session_of(arrival) == reference([e for _, e in events])


def test_an_out_of_order_event_that_bridges_a_gap_merges_two_sessions():
    p = FeatureParams()  # 30 min gap, 10 min lateness
    s = UserState(p)
    for t in (0, 35 * M):
        s.apply(ev(t, 5), p)
    assert s.features(p)["session"]["count"] == 2
    assert s.apply(ev(28 * M, 5), p)  # 7 min behind the newest: accepted, within 30 min of both
    assert s.features(p)["session"] == {"count": 1, "current_events": 3, "current_duration_ms": 35 * M,
                                        "current_dwell_ms": 15, "avg_events": 3.0}


def test_kept_intervals_are_bounded_by_lateness_over_gap():
    rng = random.Random(7)
    s = Sessions(GAP)
    newest = 0
    for _ in range(5_000):
        newest += rng.choice((10, 500, 1_200, 5_000))
        s.add(max(newest - rng.randint(0, LATE), 0), 1, LATE)
        assert len(s.open) <= LATE // GAP + 2
    assert s.count > 100 and s.n_events == 5_000
    assert len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) < 120


# a Sessions object pickled (protocol 5) by the earlier layout, which kept only the current session:
# gap 1000, events (0, dwell 5), (500, 5), (5000, 7), (5400, 3)
OLD_PICKLE = (
    b"\x80\x05\x95\x87\x00\x00\x00\x00\x00\x00\x00\x8c\x16udfs.features.sessions\x94\x8c\x08Sessions\x94"
    b"\x93\x94)\x81\x94N}\x94(\x8c\x06gap_ms\x94M\xe8\x03\x8c\x05count\x94K\x02\x8c\x05start\x94M\x88\x13"
    b"\x8c\x04last\x94M\x18\x15\x8c\x06events\x94K\x02\x8c\x08dwell_ms\x94K\n\x8c\rclosed_events\x94K\x02u"
    b"\x86\x94b."
)


def test_a_state_pickled_in_the_earlier_layout_restores_and_continues():
    s = pickle.loads(OLD_PICKLE)
    assert s.snapshot() == {"count": 2, "current_events": 2, "current_duration_ms": 400,
                            "current_dwell_ms": 10, "avg_events": 2.0}
    s.add(5_900, 1, 0)
    s.add(9_000, 2, 0)
    assert s.snapshot() == {"count": 3, "current_events": 1, "current_duration_ms": 0,
                            "current_dwell_ms": 2, "avg_events": 2.0}
    back = pickle.loads(pickle.dumps(s))
    assert back.snapshot() == s.snapshot() and back.open == s.open


# a whole UserState (interactions and anomaly on) pickled before sessions kept intervals, zlib + base64:
# user "u", category "c", dwell 10 each: view at T, click at T + 5 min, purchase at T + 40 min
T = 1_700_000_000_000
OLD_USER_STATE = (
    "eNptVM9P1EAUnu52d7uLIIoYgwmBm3AgBD2irlmTDR3gQrhpamkf24bS4k7LujFEPfgDGRMN48mbF6/cPOm/gDcTvXDxoCc8eDAa48y0s8sSZrLtzPvevve9N9/0YeH1Gx3JQS8k7iqZWgU7TppAphICTYvEdgyMlpf5Zkmud9nEI3YJ53Aeo+dF5H3b39H4u1T5tKOZY31j6DZHNT4Rn+kTAR6to2xg4UCHe3O1/NCNWoTR/qXAd/2wUYuSMCZpssUt/ofySuKsQWytE7bwbIiWQys1EIZnaSm04vYG8LVBS8q+xcyDf7Vzgg7KpqJDqO6B7aYOyRO24hlZHq9v4c4P7xSe9fqx4Q1wizm8vKelNaGjE8yRDEC9EJhXO0Bv2sQ7I7FjGU30exj15tzJn+3pYyf0iww4KbTARGig53u764cx8HfM6Omb4NhtcOeUpdvg0ppFvKgZs/q19ud3j19NJLS4ZgVR2OCWob0Hb99/HKQD6/Y9y+EyaERNX/S7SnW+Fc2mmsM4s3p17Mvh/fny13p1/O/4/ofKTyUOIILccW4E7iYQOlxjhXmbxItKXxqeUeqi2hyrGQe7OhLyYnTIn0b+5WkxkD9zRS5YLY80ncUnJSDEj0KuLWNJLbtVFxv2htCUWW1dRLTgCNkxnKMFLnzeC8Wd6gEn190WYROEPrFGDbcFQSBi4Artd4KIgGspOCdLHjnhOGwnTlkNiqs1d9Qk2QlyOX+aSRWoTuCKPHB56EBLWROUz8Gf78on8wJqdBqkAskCpJOeKgiSLeZNCjjfgUf57dZlHK1eLf0iL7dvbQJR8FNe07ELbIfRuh20Ge0T5dzIdulZSs1jbbt+/TD9BHS/BblORs52W6m6g/PjXOS/qf/LeoFG"
)


def test_a_user_state_saved_before_restores_with_the_same_features_and_continues():
    p = FeatureParams(interactions_on=True, anomaly_on=True)
    events = [dict(ev(T + t, 10, etype), item_id=f"i{t}", category="c")
              for t, etype in ((0, "view"), (5 * M, "click"), (40 * M, "purchase"))]
    fresh = UserState(p)
    for e in events:
        fresh.apply(e, p)
    old = pickle.loads(zlib.decompress(base64.b64decode(OLD_USER_STATE)))
    assert old.features(p) == fresh.features(p)
    nxt = dict(ev(T + 50 * M, 10, "view"), item_id="i9", category="c")
    assert old.apply(nxt, p) and fresh.apply(nxt, p)
    assert old.features(p) == fresh.features(p)
    assert old.features(p)["session"] == {"count": 2, "current_events": 2, "current_duration_ms": 10 * M,
                                          "current_dwell_ms": 20, "avg_events": 2.0}
