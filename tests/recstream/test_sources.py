import json
from collections import Counter

import pytest

from recstream.sources import movielens, synthetic
from udfs.events import try_parse_event

SMALL = synthetic.SyntheticSpec(seed=3, n_users=80, n_items=300, n_events=3000, bot_users=2,
                                late_fraction=0.03, malformed_fraction=0.02)


def test_synthetic_is_seeded_and_has_every_ingredient():
    a = list(synthetic.replay_lines(SMALL))
    assert a == list(synthetic.replay_lines(SMALL))
    assert a != list(synthetic.replay_lines(synthetic.SyntheticSpec(**{**SMALL.__dict__, "seed": 4})))
    parsed = [try_parse_event(x) for x in a]
    bad = [r for e, r in parsed if e is None]
    good = [e for e, r in parsed if e is not None]
    assert 0.01 * len(a) < len(bad) < 0.04 * len(a)
    assert {e["event_type"] for e in good} >= {"view", "click", "purchase", "rating"}
    per_user = Counter(e["user_id"] for e in good)
    assert per_user["u00000"] > 10 * (sum(per_user.values()) / len(per_user))  # bots are heavy
    items = Counter(e["item_id"] for e in good if not e["user_id"] in ("u00000", "u00001"))
    top = items.most_common(10)
    assert top[0][1] > 5 * (sum(items.values()) / len(items))  # Zipf head
    # arrival order is mostly event-time order, with some events far behind
    times = [e["event_time"] for e in good]
    running_max, behind = 0, 0
    for t in times:
        if t < running_max - 3_600_000:
            behind += 1
        running_max = max(running_max, t)
    assert behind > 0.01 * len(good)


def test_synthetic_interests_drift():
    events = synthetic.generate_events(synthetic.SyntheticSpec(seed=5, n_users=30, n_events=6000, bot_users=0))
    by_user = {}
    for e in events:
        by_user.setdefault(e["user_id"], []).append(e["category"])
    changed = 0
    for cats in by_user.values():
        if len(cats) >= 40:
            first, last = Counter(cats[:20]).most_common(1)[0][0], Counter(cats[-20:]).most_common(1)[0][0]
            changed += first != last
    assert changed >= 1


def test_synthetic_uniform_users_spread_events_thinly():
    spec = synthetic.SyntheticSpec(seed=3, n_users=20_000, n_items=300, n_events=4000, user_dist="uniform",
                                   late_fraction=0.0, malformed_fraction=0.0)
    events = synthetic.generate_events(spec)
    assert len(events) == 4000  # fewer events than users: users without any are allowed
    per_user = Counter(e["user_id"] for e in events)
    assert 3000 < len(per_user) < 4000 and max(per_user.values()) <= 8  # no heavy users, bots included
    lines = list(synthetic.replay_lines(spec))
    users = [json.loads(x)["user_id"] for x in lines]
    repeats = sum(len(w) - len(set(w)) for w in (users[i:i + 200] for i in range(0, len(users), 200)))
    assert repeats < 0.02 * len(users)  # a user recurs within a stretch of the stream only by chance
    assert synthetic.generate_events(spec) == events
    with pytest.raises(ValueError, match="user_dist"):
        synthetic.generate_events(spec, user_dist="zipf")


def test_synthetic_default_user_dist_gives_every_user_events():
    events = synthetic.generate_events(synthetic.SyntheticSpec(seed=3, n_users=300, n_events=600))
    assert len({e["user_id"] for e in events}) == 300


def _write_ml(tmp_path, data_lines, item_lines):
    (tmp_path / "u.data").write_text("".join(data_lines))
    (tmp_path / "u.item").write_text("".join(item_lines), encoding="latin-1")


def test_movielens_loader_on_fixture(tmp_path):
    flags = ["0"] * 19
    f1 = flags.copy(); f1[1] = f1[5] = "1"  # Action, Comedy
    _write_ml(tmp_path, ["1\t10\t4\t900\n", "2\t11\t2\t800\n"],
              ["10|Movie A (1995)|01-Jan-1995||http://x|" + "|".join(f1) + "\n",
               "11|Movie B (1995)|01-Jan-1995||http://x|" + "|".join(flags) + "\n"])
    events = movielens.load_events(tmp_path)
    assert [e["event_time"] for e in events] == [800_000, 900_000]
    assert events[1]["category"] == "Action" and events[1]["tags"] == ["Action", "Comedy"]
    assert events[0]["tags"] == ["unknown"] and events[0]["rating"] == 2.0
    lines = list(movielens.replay_lines(tmp_path, repeat=2))
    assert len(lines) == 4 and all(try_parse_event(x)[0] for x in lines)
    assert json.loads(lines[2])["event_time"] > json.loads(lines[1])["event_time"]


def test_movielens_errors_name_the_file(tmp_path):
    with pytest.raises(movielens.MovieLensError, match="u.data"):
        movielens.load_events(tmp_path)
    _write_ml(tmp_path, ["1\t10\t4\n"], [])
    with pytest.raises(movielens.MovieLensError, match=r"u.data:1: expected 4 fields"):
        movielens.load_events(tmp_path)


def test_movielens_real_data(ml100k_dir):
    events = movielens.load_events(ml100k_dir)
    assert len(events) == 100_000 and len({e["user_id"] for e in events}) == 943
    assert all(try_parse_event(json.dumps(e))[0] for e in events[:1000])


def test_partitioned_replay_keeps_each_user_in_one_file_in_order(tmp_path):
    from recstream.config import load_config
    from recstream.replay import count_lines, replay_files, source_lines, write_replay_file

    cfg = load_config(overrides=["source.synthetic.events=2000"])
    n = write_replay_file(cfg, tmp_path / "parts", partitions=3)
    files = replay_files(tmp_path / "parts")
    assert len(files) == 3 and count_lines(tmp_path / "parts") == n == len(list(source_lines(cfg)))
    owner, order = {}, {}
    for i, f in enumerate(files):
        for line in f.read_text().splitlines():
            e, _ = try_parse_event(line)
            if e is None:
                continue
            assert owner.setdefault(e["user_id"], i) == i
            order.setdefault(e["user_id"], []).append(e["event_id"])
    original = {}
    for line in source_lines(cfg):
        e, _ = try_parse_event(line)
        if e is not None:
            original.setdefault(e["user_id"], []).append(e["event_id"])
    assert order == original


def test_generate_takes_the_user_distribution_from_the_config(tmp_path):
    from typer.testing import CliRunner

    from recstream.cli import app

    out = tmp_path / "events.jsonl"
    sets = ["--set", "source.synthetic.user_dist=uniform", "--set", "source.synthetic.users=100000",
            "--set", "source.synthetic.events=3000", "--set", "source.synthetic.malformed_fraction=0"]
    result = CliRunner().invoke(app, ["generate", str(out), *sets])
    assert result.exit_code == 0, result.output
    users = [json.loads(line)["user_id"] for line in out.read_text().splitlines()]
    assert len(users) == 3000 and len(set(users)) > 2900  # nearly every event another user's
    bad = CliRunner().invoke(app, ["generate", str(out), "--set", "source.synthetic.user_dist=zipf"])
    assert bad.exit_code == 2 and "user_dist" in bad.output
