"""`recstream backfill` (batch run of the job's feature code into the store) and
`recstream features --as-of` (point-in-time-correct training rows)."""
import json
import os
import subprocess
import sys

import pytest

from udfs.features.as_of import features_as_of
from udfs.features.params import FeatureParams
from recstream.backfill import backfill, export_as_of, parse_time, read_lines
from recstream.config import load_config
from recstream.sources.synthetic import SyntheticSpec, replay_lines
from recstream.store.sqlite import SqliteStore
from tests.conftest import assert_close
from udfs.events import try_parse_event
from udfs.features.batch import fold_events, fold_raw
from udfs.features.items import fold_items

SPEC = SyntheticSpec(seed=23, n_users=40, n_items=150, n_events=2000, bot_users=1, late_fraction=0.03,
                     malformed_fraction=0.02)


@pytest.fixture(scope="module")
def events_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("bf") / "events.jsonl"
    path.write_text("\n".join(replay_lines(SPEC)) + "\n")
    return path


def cfg_for(tmp_path, *extra):
    return load_config(overrides=[f"store.sqlite.path={tmp_path / 'store.sqlite'}", *extra])


def test_backfill_writes_the_batch_fold_into_the_store(tmp_path, events_file):
    cfg = cfg_for(tmp_path)
    s = backfill(cfg, events_file, run_id="bf1")
    lines = list(read_lines(events_file))
    params = cfg.features.params()
    states, late, dead = fold_raw(lines, params)
    assert (s.events_in, s.dead_parse, s.dead_late, s.users) == (len(lines), len(dead), len(late), len(states))
    assert s.events_applied + s.dead_parse + s.dead_late == s.events_in
    with SqliteStore(cfg.store.sqlite.path, read_only=True) as st:
        stored = {r["user_id"]: r for r in st.iter_user_states()}
        assert set(stored) == set(states)
        for uid, state in states.items():
            row = stored[uid]
            assert (row["event_time"], row["state_seq"]) == (state.last_ts, state.seq)
            assert row["sequence"] == state.sequence_snapshot()
            assert_close(row["features"], state.features(params), path=uid)
        letters = st.dead_letters("bf1", limit=10_000)
        assert sorted(d["raw"] for d in letters if d["stage"] == "parse") == sorted(r for r, _ in dead)
        assert len([d for d in letters if d["stage"] == "late"]) == len(late)
        stats = st.run_stats("bf1")
        assert stats["events_applied.0"] == s.events_applied and stats["finished.0"] == 1
        # items: the building block over the applied events, bot events excluded by their verdicts
        assert s.items > 0 and s.excluded_from_items > 0
        item = max(fold_items([e for e in fold_events_applied(lines, params)], params.items).items(),
                   key=lambda kv: kv[1].state_seq())[0]
        assert st.get_item(item)["features"]["event_count"] > 0
        top = st.get_popular_items("global")
        assert len(top["items"]) == min(cfg.features.items.top_k, s.items) and top["scores"] == sorted(top["scores"], reverse=True)


def fold_events_applied(lines, params):
    events = [e for e in (try_parse_event(line)[0] for line in lines) if e is not None]
    _, late = fold_events(events, params)
    late_ids = {id(e) for e in late}
    return [e for e in events if id(e) not in late_ids]


def test_population_out_learns_a_baseline_that_a_frozen_run_then_uses(tmp_path, events_file):
    cfg = cfg_for(tmp_path, "features.anomaly.population_min_weight=1")
    s = backfill(cfg, events_file, population_out=tmp_path / "pop.json")
    pop = json.loads((tmp_path / "pop.json").read_text())
    assert s.population_file == tmp_path / "pop.json" and pop["w"] > 1 and pop["mean"] > 0
    prior = {r["user_id"]: r["features"]["anomaly"] for r in SqliteStore(cfg.store.sqlite.path).iter_user_states()}
    cfg2 = load_config(overrides=[f"store.sqlite.path={tmp_path / 'frozen.sqlite'}",
                                  "features.anomaly.population_min_weight=1",
                                  f"features.anomaly.population_file={tmp_path / 'pop.json'}"])
    backfill(cfg2, events_file)
    frozen = {r["user_id"]: r["features"]["anomaly"] for r in SqliteStore(cfg2.store.sqlite.path).iter_user_states()}
    assert prior.keys() == frozen.keys() and prior != frozen  # the population z now uses the learned baseline
    # learn mode: the run's own (in-memory) baseline is what gets written
    cfg3 = cfg_for(tmp_path / "learn", "features.anomaly.population=learn")
    backfill(cfg3, events_file, population_out=tmp_path / "learned.json")
    assert json.loads((tmp_path / "learned.json").read_text()) == pytest.approx(pop)


def test_as_of_rows_use_only_events_up_to_t(tmp_path, events_file):
    cfg = cfg_for(tmp_path)
    params = cfg.features.params()
    events = [e for e in (try_parse_event(line)[0] for line in read_lines(events_file)) if e is not None]
    times = sorted(e["event_time"] for e in events)
    t1, t2 = times[len(times) // 3], times[2 * len(times) // 3]
    out = tmp_path / "rows.jsonl"
    result = export_as_of(cfg, events_file, [t2, t1], out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert result["rows"] == len(rows) and [r["as_of"] for r in rows] == sorted(r["as_of"] for r in rows)
    for t in (t1, t2):
        at = {r["user_id"]: r for r in rows if r["as_of"] == t}
        states, _ = fold_events([e for e in events if e["event_time"] <= t], params)
        assert set(at) == set(states) and result["rows_per_as_of"][t] == len(at)
        for uid, state in states.items():
            r = at[uid]
            assert r["event_time"] == state.last_ts <= t and r["staleness_ms"] == t - state.last_ts
            assert all(x["event_time"] <= t for x in r["sequence"])
            assert r["features"]["last_event_time"] <= t
            # the features as of T itself: windows and interest evaluated at T, not at the user's newest event
            assert r["features"]["as_of"] == r["features"]["windows_as_of"] == t
            want = features_as_of(state.features(params), t)
            assert_close(r["features"], want, path=f"{t}:{uid}")
            for wms, w in zip(params.windows_ms, state.windows):
                floor = t // w.bucket_ms - wms // w.bucket_ms
                n = sum(sum(c) for b, c in w.buckets.items() if b > floor)
                assert sum(r["features"]["window_counts"][FeatureParams.window_label(wms)].values()) == n
    # a user active both before and after t1 has fewer events in the t1 row than in the t2 row
    both = [u for u in {r["user_id"] for r in rows if r["as_of"] == t1}
            if any(e["user_id"] == u and t1 < e["event_time"] <= t2 for e in events)]
    assert both
    for u in both:
        n1 = next(r for r in rows if r["as_of"] == t1 and r["user_id"] == u)["features"]["event_count"]
        n2 = next(r for r in rows if r["as_of"] == t2 and r["user_id"] == u)["features"]["event_count"]
        assert n1 < n2


def test_parse_time():
    assert parse_time("1767225600000") == 1_767_225_600_000
    assert parse_time("2026-01-01T00:00:00Z") == 1_767_225_600_000
    assert parse_time("2026-01-01T01:00:00+01:00") == 1_767_225_600_000
    with pytest.raises(ValueError, match="not a time"):
        parse_time("yesterday")


def test_read_lines_splits_like_the_jobs_file_source(tmp_path):
    # JSON Lines: only \n ends a line; one \r before it (or before the end of the file) is dropped
    f = tmp_path / "x.jsonl"
    f.write_bytes(b'{"a":1}\r\n\n{"b":2}\r{"c":3}\xff\nY\r\r\nX\r')
    assert list(read_lines(f)) == ['{"a":1}', "", '{"b":2}\r{"c":3}\ufffd', "Y\r", "X"]


def cli(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "recstream", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_cli_backfill_features_and_delete_user(tmp_path, events_file):
    store = tmp_path / "cli.sqlite"
    key = "cli-test-key-0123456789abcdef"
    env = {"RECSTREAM_PSEUDONYM_KEY": key}
    priv = ["--set", "privacy.pseudonymize=true"]
    out = cli("backfill", "--input", str(events_file), "--store", str(store), *priv, env=env)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["events_applied"] + summary["dead_parse"] + summary["dead_late"] == summary["events_in"]
    rows = tmp_path / "rows.jsonl"
    out = cli("features", "--as-of", "2026-01-02T00:00:00Z", "--input", str(events_file), "--out", str(rows), *priv,
              env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rows"] == len(rows.read_text().splitlines()) > 0
    from udfs.privacy import Pseudonymizer

    uid = "u00003"
    pseudonym = Pseudonymizer(key.encode())(uid)
    with SqliteStore(store, read_only=True) as st:
        assert st.get_user_state(pseudonym) is not None and st.get_user_state(uid) is None
    out = cli("delete-user", uid, "--store", str(store), *priv, env=env)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["stored_key"] == pseudonym and res["deleted"]["user_features"] == 1
    assert "state_ttl_days" in out.stderr
    with SqliteStore(store, read_only=True) as st:
        assert st.get_user_state(pseudonym) is None
    missing = cli("features", "--as-of", "soon", "--input", str(events_file), "--out", str(rows))
    assert missing.returncode == 1 and "not a time" in missing.stderr
    nokey = cli("backfill", "--input", str(events_file), "--store", str(store), *priv,
                env={"RECSTREAM_PSEUDONYM_KEY": ""})
    assert nokey.returncode == 1 and "RECSTREAM_PSEUDONYM_KEY" in nokey.stderr


def test_backfill_of_hostile_lines_writes_clean_rows(tmp_path):
    """A float-form time applies as an integer; a lone surrogate, NaN and duplicate keys are dead
    letters with reasons, and nothing non-finite or unencodable reaches the store."""
    line = '{"event_id":"e%d","user_id":%s,"item_id":"i1","event_type":"%s","event_time":%s%s}'
    lines = [line % (1, '"x1"', "view", "1767225820593.0", ""),
             line % (2, '"x1"', "rating", "1767225820594", ',"rating":4.0'),
             line % (3, '"x\\ud800"', "view", "1767225820593", ""),
             line % (4, '"x2"', "rating", "1767225820593", ',"rating":NaN'),
             line % (5, '"attacker"', "view", "1767225820593", ',"user_id":"victim"'),
             line % (6, '"\\ufeffx3"', "view", "1767225820593", "")]
    f = tmp_path / "hostile.jsonl"
    f.write_text("\n".join(lines) + "\n")
    cfg = cfg_for(tmp_path)
    s = backfill(cfg, f, run_id="h1")
    assert (s.events_in, s.events_applied, s.dead_parse, s.users) == (6, 3, 3, 2)
    with SqliteStore(cfg.store.sqlite.path, read_only=True) as st:
        rows = {r["user_id"]: r for r in st.iter_user_states()}
        assert set(rows) == {"x1", "\ufeffx3"}
        assert rows["x1"]["event_time"] == 1767225820594 and rows["x1"]["features"]["avg_rating"] == 4.0
        # every stored features document is strict JSON that SQLite's JSON functions read
        assert st.conn.execute("SELECT count(*), max(json_extract(features, '$.avg_rating')) FROM user_features "
                               "WHERE json_valid(features)").fetchone()[:] == (2, 4.0)
        reasons = sorted(d["reason"].split(":")[0] for d in st.dead_letters("h1", limit=10))
    assert reasons == ["duplicate key 'user_id'", "lone surrogate escape (\\ud800-\\udfff without its pair)",
                       "non-finite number NaN"]


def test_a_directory_replay_reads_and_counts_only_its_jsonl_files(tmp_path):
    from recstream.replay import count_lines, ignored_files, replay_files

    d = tmp_path / "events"
    d.mkdir()
    good = '{"event_id":"e1","user_id":"u1","item_id":"i1","event_type":"view","event_time":1767225820593}\n'
    (d / "part-0.jsonl").write_text(good)
    (d / "README.txt").write_text("not events\nat all\n")
    (d / ".hidden.jsonl").write_text("junk\n")
    assert replay_files(d) == [d / "part-0.jsonl"] and count_lines(d) == 1
    assert ignored_files(d) == [d / ".hidden.jsonl", d / "README.txt"]
    s = backfill(cfg_for(tmp_path), d, run_id="dir")
    assert (s.events_in, s.events_applied, s.dead_parse) == (1, 1, 0)
    r = cli("backfill", "--input", str(d), "--store", str(tmp_path / "cli.sqlite"))
    assert r.returncode == 0, r.stderr
    assert "ignoring 2 file(s)" in r.stderr and "README.txt" in r.stderr
    assert json.loads(r.stdout)["events_in"] == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x\n")
    with pytest.raises(FileNotFoundError, match="no \\*.jsonl files"):
        replay_files(empty)


def test_count_lines_counts_records_as_the_readers_split_them(tmp_path):
    from recstream.replay import count_lines

    f = tmp_path / "x.jsonl"
    f.write_bytes(b'{"a":1}\r\n\n{"b":\r2}\r{"c":3}')
    assert count_lines(f) == len(list(read_lines(f))) == 3
