"""The Cassandra schema as rendered from config, and the store's statements checked against it.

No cluster is needed: the CQL text is parsed here, and every value a writer binds is
serialized with the driver's own type codecs for the column type it lands in, which
is what the driver does with the prepared statement's metadata on a live cluster.
"""
from __future__ import annotations

import json
import re
import uuid

import pytest

from recstream.store.cassandra import store as cs
from recstream.store.base import DeadLetter, FeatureRow, ItemRow, ModelVersion, PopularItems, ScoreRow
from recstream.store.cassandra.config import CassandraStoreConfig
from recstream.store.cassandra.schema import TABLE_TTL, describe, render_cql, schema_statements

TYPES = {"text": "UTF8Type", "bigint": "LongType", "int": "Int32Type", "boolean": "BooleanType",
         "double": "DoubleType", "float": "FloatType", "timeuuid": "TimeUUIDType"}


def driver_type(cql: str):
    from cassandra.cqltypes import lookup_casstype

    cql = cql.strip()
    m = re.fullmatch(r"frozen<(.*)>", cql)
    if m:
        return driver_type(m.group(1))
    m = re.fullmatch(r"list<(.*)>", cql)
    if m:
        return lookup_casstype(f"ListType({driver_type(m.group(1)).cassname})")
    return lookup_casstype(TYPES[cql])


def tables(cfg) -> dict[str, dict]:
    """table -> {'columns': {name: cql type}, 'key': [partition key columns], 'clustering': [...]}"""
    out = {}
    for stmt in schema_statements(cfg):
        m = re.match(rf"CREATE TABLE IF NOT EXISTS {cfg.keyspace}\.(\w+) \((.*)\) WITH", stmt)
        if not m:
            continue
        body = m.group(2)
        cols, key, clustering = {}, [], []
        pk = re.search(r"PRIMARY KEY \(\((.*?)\)(?:, (.*?))?\)", body)
        if pk:
            key = [c.strip() for c in pk.group(1).split(",")]
            clustering = [c.strip() for c in (pk.group(2) or "").split(",") if c.strip()]
            body = body[:pk.start()]
        for part in re.split(r",\s*(?![^<]*>)", body):
            part = part.strip().rstrip(",")
            if not part:
                continue
            name, typ = part.split(None, 1)
            if typ.endswith("PRIMARY KEY"):
                typ = typ[: -len("PRIMARY KEY")].strip()
                key = [name]
            cols[name] = typ
        out[m.group(1)] = {"columns": cols, "key": key, "clustering": clustering}
    return out


@pytest.fixture
def cfg():
    return CassandraStoreConfig(keyspace="rs_test", ttl={"user_features_s": 111, "dead_letters_s": 222})


def test_keyspace_replication_is_rendered_from_config():
    simple = render_cql(CassandraStoreConfig(replication={"replication_factor": 3}))
    assert ("CREATE KEYSPACE IF NOT EXISTS recstream\n    WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 3} AND durable_writes = true;") in simple
    nts = schema_statements(CassandraStoreConfig(keyspace="prod_rs", replication={
        "strategy": "NetworkTopologyStrategy", "datacenters": {"eu-west": 3, "us_east": 2}}))
    assert nts[0] == ("CREATE KEYSPACE IF NOT EXISTS prod_rs WITH replication = {'class': 'NetworkTopologyStrategy', "
                      "'eu-west': 3, 'us_east': 2} AND durable_writes = true")
    assert all("${" not in s and "--" not in s for s in nts)


def test_every_table_gets_its_ttl_from_config(cfg):
    stmts = schema_statements(cfg)
    got = {}
    for s in stmts:
        m = re.match(r"CREATE TABLE IF NOT EXISTS rs_test\.(\w+) .* default_time_to_live = (\d+)", s)
        if m:
            got[m.group(1)] = int(m.group(2))
    assert set(got) == set(TABLE_TTL)
    for table, ttl_key in TABLE_TTL.items():
        assert got[table] == cfg.ttl.for_table(ttl_key)
        assert f"ALTER TABLE rs_test.{table} WITH default_time_to_live = {cfg.ttl.for_table(ttl_key)}" in stmts
    assert got["user_features"] == 111 and got["dead_letters"] == 222 and got["model_versions"] == 0
    assert describe(stmts[1]) == "create table if missing: rs_test.user_features (default TTL 111 s)"


def test_partition_keys_are_bounded_and_spread(cfg):
    t = tables(cfg)
    assert t["user_features"]["key"] == ["user_id"] and t["user_scores"]["key"] == ["user_id"]
    assert t["item_features"]["key"] == ["item_id"]
    assert t["popular_items"]["key"] == ["scope", "shard"]          # hot list spread over shards
    assert t["dead_letters"]["key"] == ["run_id", "hour", "shard"]  # bounded by hour, spread by shard
    assert t["dead_letters"]["clustering"] == ["id"]
    # lists are frozen: an overwrite is one cell, no range tombstone
    for table in t.values():
        for typ in table["columns"].values():
            assert not typ.startswith("list<"), typ


def test_statements_match_the_schema(cfg):
    t = tables(cfg)
    reads, writes = cs.statements(cfg.keyspace)
    for name, cql in {**reads, **writes}.items():
        m = re.search(r"(?:FROM|INTO) rs_test\.(\w+)", cql)
        assert m and m.group(1) in t, name
        cols = t[m.group(1)]["columns"]
        for col in re.findall(r"(\w+) = \?", cql):
            assert col in cols, (name, col)
        if cql.startswith("SELECT"):
            for col in cql[len("SELECT "):cql.index(" FROM")].removeprefix("DISTINCT ").split(", "):
                assert col in cols, (name, col)


def marker_types(cfg, name: str) -> list:
    """Driver types of the bind markers of write statement ``name``, in order."""
    t = tables(cfg)
    cql = cs.statements(cfg.keyspace)[1][name]
    m = re.match(r"INSERT INTO rs_test\.(\w+) \((.*?)\) VALUES \((.*?)\)(.*)", cql)
    cols = t[m.group(1)]["columns"]
    names = [c.strip() for c in m.group(2).split(",")]
    assert m.group(3).count("?") == len(names)
    out = [driver_type(cols[n]) for n in names]
    if "TIMESTAMP ?" in m.group(4):
        out.append(driver_type("bigint"))
    if "TTL ?" in m.group(4):
        out.append(driver_type("int"))
    return out


def test_bound_values_serialize_under_the_column_types(cfg):
    now = 1_700_000_000_000
    ttl = cfg.ttl
    feats = FeatureRow("u1", 1_700_000_000_123, 1234, json.dumps({"a": 1}), json.dumps([]))
    score = ScoreRow("u1", 1_700_000_000_123, 1234, "v1", True, [0.0, 0.5], ["i1", 7], [1, 0.5], None)
    requests = (state_writes := cs.state_writes(feats, now, ttl)) + [
        cs.score_write(score, now, ttl),
        cs.item_write(ItemRow("m1", 5, 0, "{}", 3), now, ttl),
        *cs.popular_writes(PopularItems("global", 5, ["m1"], [2]), now, ttl, shards=3),
        cs.model_write(ModelVersion("interest", "v1", now), ttl),
        cs.dead_letter_write(DeadLetter("r", "parse", "bad", "{x"), now // 3_600_000, 7, uuid.uuid1(), now, ttl),
        cs.dead_partition_write("r", now // 3_600_000, 7, ttl),
        cs.stat_write("r", "events_applied.0", 12, ttl),
    ]
    assert [n for n, _ in state_writes] == ["w_features", "w_sequence"]
    seen = set()
    for name, params in requests:
        types = marker_types(cfg, name)
        assert len(params) == len(types), name
        for value, typ in zip(params, types):
            if value is not None:  # None is sent as null without a codec
                typ.serialize(value, 4)
        seen.add(name)
    assert seen == set(cs.statements(cfg.keyspace)[1])
    # the write timestamp of a state is its event time in microseconds plus the sequence slot
    assert state_writes[0][1][5] == 1_700_000_000_123 * 1000 + 234
    assert [p[1] for n, p in requests if n == "w_popular"] == [0, 1, 2]


def test_int_column_rejects_out_of_range_values():
    """The check above is real: the codec refuses what Cassandra would."""
    import struct

    with pytest.raises(struct.error):
        driver_type("int").serialize(2**40, 4)
