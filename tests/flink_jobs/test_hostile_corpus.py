"""The hostile-input corpus (tests/data/hostile_events.jsonl) through the real job and through
``recstream backfill``: no crash, every record accounted for (in = applied + dead letters), and
the same verdict for every record in the stream and in the batch run."""
from collections import Counter

import pytest

from recstream.backfill import backfill, read_lines
from recstream.config import load_config
from recstream.replay import count_lines
from tests.data import hostile_events
from tests.stream_helpers import store_rows
from udfs.features.bucket_fold import dead_letter_raw
from udfs.features.runtime import FoldOptions, FoldRuntime

pytestmark = pytest.mark.flink

CORPUS = hostile_events.PATH
KEY = b"hostile-corpus-test-key-0123456789"


def _run(tmp, name: str, extra: list[str]) -> dict:
    from recstream.runner import run_local

    common = ["model.enabled=false", f"job.work_dir={tmp}", "features.items.popular_every_s=0.5", *extra]
    stream_cfg = load_config(overrides=common + [f"store.sqlite.path={tmp / (name + '-stream.sqlite')}"])
    batch_cfg = load_config(overrides=common + [f"store.sqlite.path={tmp / (name + '-batch.sqlite')}"])
    return {"summary": run_local(stream_cfg, CORPUS), "backfill": backfill(batch_cfg, CORPUS),
            "stream_cfg": stream_cfg, "batch_cfg": batch_cfg}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("hostile"), "plain", [])


@pytest.fixture(scope="module")
def private(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile_private")
    (tmp / "key").write_bytes(KEY)
    return _run(tmp, "private", ["privacy.pseudonymize=true", f"privacy.key_file={tmp / 'key'}"])


def _dead(cfg, run_id) -> list[tuple[str, str, str]]:
    rows = store_rows(cfg, f"SELECT stage, reason, raw FROM dead_letters WHERE run_id = '{run_id}'")
    return sorted(rows)


def test_corpus_file_is_the_generated_one():
    assert CORPUS.read_bytes() == b"".join(line + b"\n" for line, _ in hostile_events.CASES)


def test_stream_accounts_for_every_record_and_gives_each_its_verdict(plain):
    s, b = plain["summary"], plain["backfill"]
    expected = hostile_events.expected_verdicts()
    assert s.job_status == "FINISHED"
    assert s.events_in == count_lines(CORPUS) == len(expected) == b.events_in
    assert s.accounted == s.events_in
    assert (s.events_applied, s.dead_parse, s.dead_late) == (
        expected.count("applied"), expected.count("parse"), expected.count("late"))
    # the verdict of each record: its raw text among the dead letters with its stage, or applied
    lines = list(read_lines(CORPUS))
    rt = FoldRuntime(FoldOptions(), plain["stream_cfg"].features.params())
    want = Counter((v, dead_letter_raw(rt, raw)) for v, raw in zip(expected, lines) if v != "applied")
    got = Counter((stage, raw) for stage, _, raw in _dead(plain["stream_cfg"], s.run_id))
    assert got == want


def test_backfill_gives_the_same_verdicts_and_rows_as_the_stream(plain):
    s, b = plain["summary"], plain["backfill"]
    assert (b.events_applied, b.dead_parse, b.dead_late) == (s.events_applied, s.dead_parse, s.dead_late)
    assert _dead(plain["stream_cfg"], s.run_id) == _dead(plain["batch_cfg"], b.run_id)
    q = "SELECT user_id, event_time, state_seq FROM user_features ORDER BY user_id"
    users = store_rows(plain["stream_cfg"], q)
    assert users == store_rows(plain["batch_cfg"], q)
    ids = {u for u, *_ in users}
    assert {"h1", "h\U0001F600", "\ufeffh2", "\ufeffh3", "x\ufeffh4", "tab\there", "nl\nhere", "nul\x00x",
            "back\\slash\\t", 'quo"te', "line\u2028sep", " spaced "} == ids
    h1 = [r for r in users if r[0] == "h1"][0]
    assert h1[1] == hostile_events.T0 + 1 and isinstance(h1[1], int)  # 1767225820594.0 stored as an integer
    q = "SELECT item_id, state_seq FROM item_features ORDER BY item_id"
    assert store_rows(plain["stream_cfg"], q) == store_rows(plain["batch_cfg"], q)


def test_pseudonymised_run_survives_the_corpus_and_agrees_with_backfill(private):
    s, b = private["summary"], private["backfill"]
    expected = hostile_events.expected_verdicts()
    assert s.job_status == "FINISHED" and s.accounted == s.events_in == len(expected)
    assert (s.events_applied, s.dead_parse, s.dead_late) == (b.events_applied, b.dead_parse, b.dead_late) == (
        expected.count("applied"), expected.count("parse"), expected.count("late"))
    assert _dead(private["stream_cfg"], s.run_id) == _dead(private["batch_cfg"], b.run_id)
    q = "SELECT user_id, event_time, state_seq FROM user_features ORDER BY user_id"
    assert store_rows(private["stream_cfg"], q) == store_rows(private["batch_cfg"], q)


def test_cli_run_on_a_directory_with_a_stray_file_reads_only_the_events(tmp_path):
    """``recstream run --input DIR``: the README beside the data is named and skipped, the corpus
    is accounted for in full (exit 0, not 3)."""
    import json
    import os
    import subprocess
    import sys

    d = tmp_path / "events"
    d.mkdir()
    (d / "part-0.jsonl").write_bytes(CORPUS.read_bytes())
    (d / "README.txt").write_text("what these files are\n")
    r = subprocess.run([sys.executable, "-m", "recstream", "run", "--input", str(d), "--json",
                        "--set", "model.enabled=false", "--set", f"job.work_dir={tmp_path}",
                        "--set", f"store.sqlite.path={tmp_path / 'cli.sqlite'}"],
                       capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ignoring 1 file(s)" in r.stderr and "README.txt" in r.stderr
    out = json.loads(r.stdout)
    expected = hostile_events.expected_verdicts()
    assert out["events_in"] == len(expected) == out["events_applied"] + out["dead_parse"] + out["dead_late"]
    assert out["dead_parse"] == expected.count("parse")
