"""The reader API and the `serve-read` / `cassandra` commands, on the embedded store (and, for
Cassandra, what can be checked without a server: the rendered CQL and the connection errors)."""
from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from recstream.cli import app
from recstream.reader import open_reader
from recstream.store.base import DeadLetter, FeatureRow, ItemRow, ModelVersion, PopularItems, ScoreRow
from recstream.store.sqlite import SqliteStore

runner = CliRunner()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "store.sqlite"
    with SqliteStore(path) as st:
        st.upsert_users([
            (FeatureRow("u1", 100, 3, json.dumps({"event_count": 3}),
                        json.dumps([{"item_id": "m9", "event_type": "view", "event_time": 100}])),
             ScoreRow("u1", 100, 3, "v7", False, [0.5, 0.25], ["m1", "m2", "m3"], [3.0, 2.0, 1.0], 0.125)),
            (FeatureRow("u2", 50, 1, "{}", "[]"), None),
        ])
        st.upsert_items([ItemRow("m1", 90, 1, json.dumps({"category": "Drama"}), 4.5)])
        st.set_popular_items([PopularItems("global", 99, ["m1", "m2"], [9.0, 8.0])])
        st.register_model_versions([ModelVersion("interest", "v7", 1234)])
        st.add_dead_letters([DeadLetter("r1", "parse", "event_type: [bold]x[/bold] is not one of ['view']",
                                        '{"user_id": "[red]u9[/red]"}'),
                             DeadLetter("r2", "late", "600 s behind the user's newest event time",
                                        '{"user_id": "u1"}')])
    return path


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    """rich wraps long messages: compare with whitespace collapsed."""
    return " ".join(text.split())


def test_reader_api_on_the_embedded_store(db):
    with open_reader(overrides=[f"store.sqlite.path={db}"]) as r:
        assert r.kind == "sqlite"
        state = r.get_user_state("u1", as_of="event")
        assert state["features"] == {"event_count": 3} and state["scores"]["items"] == ["m1", "m2", "m3"]
        read = r.get_user_state("u1")  # default: as of the read (a row without tiles: windows as stored)
        assert read["features"]["as_of"] >= state["event_time"] and read["features"]["event_count"] == 3
        assert read["features"]["windows_as_of"] == state["event_time"]
        assert r.get_user_state("u1", as_of=state["event_time"] + 5)["features"]["as_of"] == state["event_time"] + 5
        with pytest.raises(ValueError, match="before the row's newest event"):
            r.get_user_state("u1", as_of=state["event_time"] - 1)
        with pytest.raises(ValueError, match="as_of must be"):
            r.get_user_state("u1", as_of="yesterday")
        assert "scores" not in r.get_user_state("u1", with_scores=False)
        top = r.get_top_k("u1", k=2)
        assert top["items"] == ["m1", "m2"] and top["scores"] == [3.0, 2.0] and top["model_version"] == "v7"
        assert "embedding" not in top and r.get_top_k("u1", with_embedding=True)["embedding"] == [0.5, 0.25]
        assert r.get_top_k("u2") is None and r.get_user_state("nobody") is None
        with pytest.raises(ValueError):
            r.get_top_k("u1", k=0)
        assert r.get_item("m1")["popularity"] == 4.5
        assert r.get_popular_items(k=1)["items"] == ["m1"]
        assert [v["version"] for v in r.model_versions()] == ["v7"]


def test_serve_read_prints_json(db):
    out = cli("serve-read", "user", "u1", "--store", db)
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    assert got["user_id"] == "u1" and got["sequence"][0]["item_id"] == "m9" and got["scores"]["drift"] == 0.125
    top = json.loads(cli("serve-read", "user", "u1", "--top-k", "--k", 1, "--store", db).stdout)
    assert top["items"] == ["m1"] and top["cold_start"] is False and "embedding" not in top
    assert "scores" not in json.loads(cli("serve-read", "user", "u1", "--no-scores", "--store", db).stdout)
    assert json.loads(cli("serve-read", "item", "m1", "--store", db).stdout)["features"] == {"category": "Drama"}
    assert json.loads(cli("serve-read", "popular", "--k", 1, "--store", db).stdout)["items"] == ["m1"]
    assert json.loads(cli("serve-read", "models", "--store", db).stdout)[0]["version"] == "v7"


def test_serve_read_not_found_and_missing_store(db, tmp_path):
    out = cli("serve-read", "user", "ghost", "--store", db)
    assert out.exit_code == 1 and "user 'ghost' not found in the sqlite store" in flat(out.output)
    out = cli("serve-read", "user", "u2", "--top-k", "--store", db)
    assert out.exit_code == 1 and "top-K of user 'u2' not found" in flat(out.output)
    out = cli("serve-read", "user", "u1", "--store", tmp_path / "none.sqlite")
    assert out.exit_code == 1 and "does not exist (run `recstream run` first)" in flat(out.output)


def test_inspect_user_is_serve_read_user(db, tmp_path):
    for args in (["u1", "--as-of", "event"], ["u1", "--top-k", "--k", 1], ["u1", "--no-scores", "--as-of", "1000"]):
        inspect, serve = cli("inspect", "user", *args, "--store", db), cli("serve-read", "user", *args, "--store", db)
        assert inspect.exit_code == serve.exit_code == 0, inspect.output
        assert json.loads(inspect.stdout) == json.loads(serve.stdout)
    assert json.loads(cli("inspect", "user", "u1", "--top-k", "--store", db).stdout)["model_version"] == "v7"
    assert json.loads(cli("inspect", "user", "u1", "--as-of", "1000", "--store", db).stdout)["features"]["as_of"] == 1000
    for bad, reason in (("soon", "neither 'now'"), ("1", "before the row's newest event")):
        out = cli("inspect", "user", "u1", "--as-of", bad, "--store", db)
        assert out.exit_code == 1 and reason in flat(out.output), out.output
    for args in (["ghost", "--store", db], ["u1", "--store", tmp_path / "none.sqlite"]):
        inspect, serve = cli("inspect", "user", *args), cli("serve-read", "user", *args)
        assert inspect.exit_code == serve.exit_code == 1 and flat(inspect.output) == flat(serve.output)


def test_inspect_dead_letters_reads_the_given_store(db, tmp_path):
    out = cli("inspect", "dead-letters", "--store", db)
    assert out.exit_code == 0, out.output
    # stored text is shown as it is, never read as rich markup
    assert "event_type: [bold]x[/bold] is not one of ['view']" in out.stdout
    assert '{"user_id": "[red]u9[/red]"}' in out.stdout and "late 600 s behind" in flat(out.stdout)
    only = cli("inspect", "dead-letters", "--run-id", "r2", "--store", db)
    assert "late" in only.stdout and "parse" not in only.stdout
    assert cli("inspect", "dead-letters", "--limit", 0, "--store", db).exit_code == 2
    missing = cli("inspect", "dead-letters", "--store", tmp_path / "none.sqlite")
    assert missing.exit_code == 1 and "does not exist (run `recstream run` first)" in flat(missing.output)
    with open_reader(overrides=[f"store.sqlite.path={db}"]) as r:
        assert [d["run_id"] for d in r.dead_letters("r1")] == ["r1"] and len(r.dead_letters(limit=1)) == 1


def test_cassandra_init_dry_run_prints_the_rendered_cql():
    out = cli("cassandra", "init", "--dry-run", "--set", "store.cassandra.keyspace=rs_prod",
              "--set", "store.cassandra.replication.strategy=NetworkTopologyStrategy",
              "--set", "store.cassandra.replication.datacenters={dc1: 3}",
              "--set", "store.cassandra.ttl.user_scores_s=3600")
    assert out.exit_code == 0, out.output
    assert ("CREATE KEYSPACE IF NOT EXISTS rs_prod\n    WITH replication = {'class': 'NetworkTopologyStrategy', "
            "'dc1': 3}") in out.stdout
    assert "CREATE TABLE IF NOT EXISTS rs_prod.user_scores" in out.stdout
    assert "ALTER TABLE rs_prod.user_scores WITH default_time_to_live = 3600;" in out.stdout
    bad = cli("cassandra", "init", "--dry-run", "--set", "store.cassandra.replication.strategy=NetworkTopologyStrategy")
    assert bad.exit_code == 2 and "needs replication factors per data centre" in flat(bad.output)


def test_cassandra_commands_fail_clearly_without_a_cluster(monkeypatch):
    monkeypatch.delenv("RECSTREAM_CASSANDRA_HOSTS", raising=False)
    out = cli("cassandra", "init")
    assert out.exit_code == 1 and "no Cassandra hosts" in flat(out.output)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    for args in (["cassandra", "init", "--hosts", f"127.0.0.1:{port}"],
                 ["cassandra", "check", "--hosts", f"127.0.0.1:{port}"],
                 ["serve-read", "user", "u1", "--set", "store.kind=cassandra",
                  "--set", f"store.cassandra.hosts=['127.0.0.1:{port}']"],
                 ["inspect", "user", "u1", "--set", "store.kind=cassandra",
                  "--set", f"store.cassandra.hosts=['127.0.0.1:{port}']"]):
        out = cli(*args)
        assert out.exit_code == 1, (args, out.output)
        assert f"cannot reach Cassandra at 127.0.0.1:{port}" in flat(out.output), args


def test_run_on_cassandra_fails_clearly_before_starting_flink_without_a_cluster():
    """The job writes through the configured store; an unreachable Cassandra stops `run` up front."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out = cli("run", "--events", "100", "--set", "store.kind=cassandra",
              "--set", f"store.cassandra.hosts=['127.0.0.1:{port}']")
    assert out.exit_code == 1, out.output
    assert f"cannot reach Cassandra at 127.0.0.1:{port}" in flat(out.output)
