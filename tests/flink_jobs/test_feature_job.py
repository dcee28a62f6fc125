"""Integration: the real PyFlink job in the local mini-cluster against batch computation."""
import json
import subprocess
import sys

import pytest

from recstream.config import load_config
from recstream.runner import run_local
from recstream.sources.synthetic import SyntheticSpec, replay_lines
from recstream.store.sqlite import SqliteStore
from tests.conftest import assert_close
from udfs.features.batch import fold_raw

pytestmark = pytest.mark.flink

SPEC = SyntheticSpec(seed=11, n_users=60, n_items=300, n_events=3000, bot_users=2,
                     late_fraction=0.03, malformed_fraction=0.02)


@pytest.fixture(scope="module")
def job_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("job")
    lines = list(replay_lines(SPEC))
    # payloads a Kafka topic could carry: binary junk and a JSON array
    lines[5:5] = ["\x00\x01garbage", '["not", "an", "object"]']
    # user ids that need the routing key's escaping (tab, newline, backslash) or are not ASCII:
    # each must keep one state, in its own bucket, and never be taken for another
    t0 = json.loads(lines[0])["event_time"]
    odd = ["odd\tid", "odd\\tid", "odd\nid", "odd\\", "ünï😀"]
    for k in range(4):
        for j, uid in enumerate(odd):
            lines.insert(40 * k + j, json.dumps({"event_id": f"odd-{j}-{k}", "user_id": uid, "item_id": f"i{k}",
                                                 "event_type": "click", "event_time": t0 + k * 1000}))
    # two files split by user id (like a keyed topic with two partitions): two parallel readers
    from recstream.replay import partition_of

    path = tmp / "events"
    path.mkdir()
    parts = [[], []]
    for line in lines:
        parts[partition_of(line, 2)].append(line)
    for i, part in enumerate(parts):
        (path / f"part-{i}.jsonl").write_text("\n".join(part) + "\n")
    cfg = load_config(overrides=[
        f"store.sqlite.path={tmp / 'store.sqlite'}", f"job.work_dir={tmp}",
        "job.parallelism=2", "features.allowed_lateness_s=600",
    ])
    progress = []
    summary = run_local(cfg, path, on_progress=progress.append)
    return cfg, lines, summary, progress


def test_every_event_is_accounted_for(job_run):
    cfg, lines, summary, progress = job_run
    assert summary.job_status == "FINISHED"
    states, late, dead = fold_raw(lines, cfg.features.params())
    assert summary.events_in == len(lines)
    assert summary.dead_parse == len(dead) > 0
    assert summary.dead_late == len(late) > 0
    assert summary.events_applied == sum(s.seq - s.late for s in states.values())
    assert summary.accounted == len(lines)
    assert summary.users_updated == len(states)
    assert progress and progress[-1]["events_applied"] == summary.events_applied


def test_stored_features_match_batch_computation(job_run):
    cfg, lines, summary, _ = job_run
    params = cfg.features.params()
    states, _, _ = fold_raw(lines, params)
    with SqliteStore(cfg.store.sqlite.path, read_only=True) as st:
        stored = {s["user_id"]: s for s in st.iter_user_states()}
    assert set(stored) == set(states)
    assert {"odd\tid", "odd\\tid", "odd\nid", "odd\\", "ünï😀"} <= set(stored)
    for uid, state in states.items():
        row = stored[uid]
        assert row["event_time"] == state.last_ts and row["state_seq"] == state.seq, uid
        assert row["sequence"] == state.sequence_snapshot(), uid
        assert_close(row["features"], state.features(params), path=uid)


def test_dead_letters_carry_reason_and_raw_payload(job_run):
    cfg, lines, summary, _ = job_run
    states, late, dead = fold_raw(lines, cfg.features.params())
    with SqliteStore(cfg.store.sqlite.path, read_only=True) as st:
        letters = st.dead_letters(summary.run_id, limit=100_000)
    parse = sorted((d["raw"], d["reason"]) for d in letters if d["stage"] == "parse")
    assert parse == sorted(dead)
    late_ids = sorted(json.loads(d["raw"])["event_id"] for d in letters if d["stage"] == "late")
    assert late_ids == sorted(e["event_id"] for e in late)
    assert all("behind the user's newest event time" in d["reason"] for d in letters if d["stage"] == "late")


def test_cli_run_and_inspect(tmp_path):
    store = tmp_path / "cli.sqlite"
    env_run = [sys.executable, "-m", "recstream", "run", "--events", "1500", "--store", str(store),
               "--set", f"job.work_dir={tmp_path}", "--json"]
    out = subprocess.run(env_run, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "FINISHED"
    assert summary["events_applied"] + summary["dead_lettered"] == summary["events_in"] > 1000
    with SqliteStore(store, read_only=True) as st:
        uid = next(iter(st.iter_user_states()))["user_id"]
    shown = subprocess.run([sys.executable, "-m", "recstream", "inspect", "user", uid, "--store", str(store)],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["user_id"] == uid
    missing = subprocess.run([sys.executable, "-m", "recstream", "inspect", "user", "nobody", "--store", str(store)],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "not found" in missing.stderr
