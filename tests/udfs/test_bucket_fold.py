import json

import pytest

from udfs.features.batch import fold_raw
from udfs.features.bucket_fold import escape_key, fold_bucket, group_records, parse_user_line
from udfs.features.params import FeatureParams
from udfs.features.runtime import FoldOptions, FoldRuntime

P = FeatureParams(allowed_lateness_ms=60_000)
M = 60_000
BASE = 1_000 * 86_400_000


def raw(uid, t, item="i1", etype="view", **kw):
    return json.dumps({"event_id": f"{uid}-{t}", "user_id": uid, "item_id": item, "event_type": etype,
                       "event_time": t, **kw})


def records(payloads, origins=None):
    """What the SQL of flink_jobs.feature_job.bucket_batch_table hands the fold."""
    out = []
    for i, p in enumerate(payloads):
        try:
            doc = json.loads(p)
        except ValueError:
            doc = None
        uid = doc.get("user_id", "") if isinstance(doc, dict) else ""
        rec = escape_key(uid) + "\t" + (f"{origins[i]}\t" if origins else "") + p
        out.append(rec)
    return "\n".join(out)


def runtime(**kw):
    return FoldRuntime(FoldOptions(**kw), P)


def test_escape_key_is_injective_and_leaves_no_separators():
    ids = ["a\tb", "a\\tb", "a\nb", "a\\nb", "a\\", "a\\\\", "plain", "ü😀"]
    escaped = [escape_key(i) for i in ids]
    assert len(set(escaped)) == len(ids)
    assert not any("\t" in e or "\n" in e for e in escaped)
    assert escape_key("a\tb") == "a\\tb" and escape_key("a\\tb") == "a\\\\tb"


def test_group_records_keeps_each_users_arrival_order_and_origins():
    recs = records([raw("u1", 1), raw("u2", 2), raw("u1", 3)], origins=["t/0/1", "t/1/7", "t/0/2"])
    groups = group_records(recs, with_origin=True)
    assert list(groups) == ["u1", "u2"]
    assert [o for o, _ in groups["u1"]] == ["t/0/1", "t/0/2"]
    assert [json.loads(p)["event_time"] for _, p in groups["u1"]] == [1, 3]


def test_bucket_fold_equals_the_reference_fold_across_batches():
    users = ["u1", "u2", "weird\tid", "back\\slash", "new\nline"]
    lines = [raw(u, BASE + k * M + i, item=f"i{(k * 7 + i) % 5}", etype=["view", "click", "purchase"][k % 3])
             for k in range(12) for i, u in enumerate(users)]
    lines.insert(5, "{not json")
    lines.insert(9, raw("u1", BASE - 10 * M))  # late for u1 by then
    ref_states, ref_late, ref_dead = fold_raw(lines, P)
    states: dict = {}
    rt = runtime()
    dead, user_rows = [], {}
    for start in range(0, len(lines), 13):  # several bucket batches
        res = fold_bucket(records(lines[start:start + 13]), states, P, rt, emit_items=True)
        dead += res.dead
        for line in res.user_lines:
            key, ts, seq, applied, count, features, sequence = parse_user_line(line)
            user_rows[key] = (ts, seq, count, json.loads(features))
    assert set(states) == set(ref_states) == set(users)
    for uid, ref in ref_states.items():
        assert states[uid].features(P) == ref.features(P)
        ts, seq, count, features = user_rows[uid]
        assert (ts, seq, count) == (ref.last_ts, ref.seq, ref.seq - ref.late)
        assert features == ref.features(P)
    assert sorted(d[0] for d in dead) == ["late"] * len(ref_late) + ["parse"] * len(ref_dead)


def test_score_input_and_item_records_per_user():
    lines = [raw("u1", BASE + i * M, item=f"i{i}") for i in range(3)] + [raw("u2", BASE, item="x")]
    res = fold_bucket(records(lines), {}, P, runtime(), emit_items=True)
    assert res.seen == res.applied == 4 and len(res.item_records) == 4
    inputs = [json.loads(s) for s in res.score_lines]
    assert inputs == [[["i0", "i1", "i2"], ["i0", "i1", "i2"], BASE + 2 * M, 3], [["x"], ["x"], BASE, 1]]
    assert fold_bucket(records(lines[:1]), {}, P, runtime(), score_input=False).score_lines == []


def test_ambiguous_user_id_never_touches_state():
    # the routing id (SQL's JSON_VALUE) and Python's reading differ: a guard for any parser mismatch
    rec = escape_key("a") + "\t" + raw("b", BASE)
    states: dict = {}
    res = fold_bucket(rec, states, P, runtime())
    assert states == {} and res.user_lines == [] and res.invalid == 1
    assert res.dead[0][0] == "parse" and "ambiguous user_id" in res.dead[0][1]


def test_duplicate_user_id_is_rejected_before_routing_matters():
    dup = '{"event_id":"e1","user_id":"a","item_id":"i","event_type":"view","event_time":%d,"user_id":"b"}' % BASE
    for key in ("a", "b"):
        states: dict = {}
        res = fold_bucket(escape_key(key) + "\t" + dup, states, P, runtime())
        assert states == {} and res.invalid == 1 and "duplicate key 'user_id'" in res.dead[0][1]


def test_pseudonymised_fold_keys_state_by_pseudonym(monkeypatch):
    monkeypatch.setenv("RECSTREAM_TEST_KEY", "k" * 32)
    rt = runtime(pseudonymize={"key_env": "RECSTREAM_TEST_KEY", "key_file": None, "digest_chars": 32})
    states: dict = {}
    res = fold_bucket(records([raw("alice", BASE), raw("bob", BASE)]), states, P, rt)
    assert set(states) == {rt.user_key("alice"), rt.user_key("bob")}
    assert not {"alice", "bob"} & set(states)
    assert [parse_user_line(line)[0] for line in res.user_lines] == [rt.user_key("alice"), rt.user_key("bob")]
    assert all("alice" not in line and "bob" not in line for line in res.user_lines)


@pytest.mark.parametrize("bad", ["", "null", '{"user_id": "u"}'])
def test_invalid_payloads_are_dead_lettered_not_folded(bad):
    res = fold_bucket(records([bad, raw("u", BASE)]), {}, P, runtime())
    assert res.invalid == 1 and res.applied == 1 and len(res.user_lines) == 1


def test_escape_key_hides_a_leading_bom():
    """A string that opens with U+FEFF loses it between Java and Python; the escaped key never opens with one."""
    ids = ["\ufeffu1", "\\ufeffu1", "u1", "x\ufeff"]
    escaped = [escape_key(i) for i in ids]
    assert len(set(escaped)) == len(ids) and not any("\ufeff" in e for e in escaped)
    recs = records([raw("\ufeffu1", BASE), raw("u1", BASE + 1)])
    assert recs.startswith("\\ufeffu1\t")
    out = fold_bucket(recs, {}, P, runtime(), score_input=False)
    assert (out.applied, out.invalid) == (2, 0) and len(out.user_lines) == 2


def test_a_float_form_event_time_folds_into_integer_user_lines():
    payload = raw("u1", BASE).replace(f'"event_time": {BASE}', f'"event_time": {BASE}.0')
    assert f"{BASE}.0" in payload
    out = fold_bucket(records([payload]), {}, P, runtime(), score_input=False)
    key, last_ts, seq, applied, count, _, _ = parse_user_line(out.user_lines[0])
    assert (key, last_ts, seq, applied, count) == ("u1", BASE, 1, 1, 1)
