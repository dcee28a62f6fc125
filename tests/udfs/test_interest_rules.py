"""The interest rules as documented: an event's weight is shared evenly by its distinct labels
(category and tags, each once), and the stored top list keeps strong dislikes visible."""
import pytest

from udfs.features.interest import DecayedInterest
from udfs.features.params import FeatureParams
from udfs.features.user_state import UserState, interest_labels

P = FeatureParams()
H = 3_600_000


def ev(t, etype="click", **kw):
    return {"event_id": f"e{t}", "user_id": "u", "item_id": "i", "event_type": etype, "event_time": t, **kw}


def interest_after(*events):
    s = UserState(P)
    for e in events:
        assert s.apply(e, P)
    return s.features(P)["interest"]


def test_labels_are_the_category_and_tags_each_once():
    assert interest_labels(ev(0, category="Drama", tags=["Drama", "War", "War", "Crime"])) == ["Drama", "War", "Crime"]
    assert interest_labels(ev(0, tags=["x", "x"])) == ["x"]
    assert interest_labels(ev(0, category="c")) == ["c"] and interest_labels(ev(0)) == []
    assert interest_labels(ev(0, category="c", tags=[])) == ["c"]


def test_a_category_that_is_also_a_tag_gets_one_share():
    w = P.event_weights["click"]  # 2.0
    got = interest_after(ev(0, category="Drama", tags=["Drama", "War"]))["short"]
    assert got == {"Drama": pytest.approx(w / 2), "War": pytest.approx(w / 2)}
    # an event's shares sum to its weight, whatever its tag count
    for tags in ([], ["a"], ["a", "b", "c", "d", "e"], ["a", "a", "cat"]):
        got = interest_after(ev(0, "purchase", category="cat", tags=tags))
        assert sum(got["short"].values()) == pytest.approx(P.event_weights["purchase"])
        assert got["long"] == got["short"] and got["short"]["cat"] == pytest.approx(6.0 / len(set(tags) | {"cat"}))


def test_top_list_keeps_a_strong_dislike_among_many_likes():
    events = [ev(i * 1000, "rating", rating=4.0, category=f"like{i:02d}") for i in range(12)]
    events.append(ev(20_000, "rating", rating=0.5, category="hated"))  # weight (0.5-2.5)/2.5*3 = -2.4
    got = interest_after(*events)
    for horizon in ("short", "long"):
        top = got[horizon]
        assert len(top) == P.top_categories and top["hated"] == pytest.approx(-2.4, rel=1e-3)
        assert list(top)[0] == "hated"  # strongest by absolute value comes first


def test_snapshot_ranks_by_absolute_value_ties_by_name():
    d = DecayedInterest(H, 10 * H, 8)
    for c, w in (("b", -3.0), ("a", 3.0), ("c", 1.0), ("d", -0.5)):
        d.add(c, 0, w)
    snap = d.snapshot(0, top=3)
    assert list(snap["short"].items()) == [("a", 3.0), ("b", -3.0), ("c", 1.0)]
