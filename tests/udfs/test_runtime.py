"""FoldOptions/FoldRuntime (what the stream's fold and the backfill open), the population
baseline file and the embeddings file."""
import json
import pickle

import numpy as np
import pytest

from recstream.config import load_config
from udfs.features.anomaly import PopulationStats
from udfs.features.embeddings import EmbeddingsFileError, EmbeddingTable, write_embeddings
from udfs.features.runtime import FoldOptions, FoldRuntime, load_population, save_population
from udfs.features.user_state import UserState
from udfs.privacy import PrivacyKeyError, Pseudonymizer

KEY = b"0123456789abcdef-runtime"
EV = {"event_id": "e1", "user_id": "alice", "item_id": "i1", "event_type": "view", "event_time": 1_767_225_600_000,
      "category": "c"}


def test_options_from_config_are_picklable_absolute_and_hold_no_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "k").write_bytes(KEY)
    cfg = load_config(overrides=["privacy.pseudonymize=true", "privacy.key_file=k", "features.content.embeddings_path=emb",
                                 "privacy.persist_fields=[event_count, anomaly]", "features.items.enabled=false"])
    o = FoldOptions.from_config(cfg)
    assert o.embeddings_path == str(tmp_path / "emb") and o.pseudonymize["key_file"] == str(tmp_path / "k")
    assert not o.emit_items and o.persist_fields == ("event_count", "anomaly")
    assert KEY not in pickle.dumps(o) and KEY.decode() not in repr(o)
    assert cfg.features.params().content_on  # auto: on because an embeddings path is set
    assert not load_config().features.params().content_on


def test_runtime_pseudonymises_keys_and_dead_letters_and_filters_fields(tmp_path):
    (tmp_path / "k").write_bytes(KEY)
    cfg = load_config(overrides=["privacy.pseudonymize=true", f"privacy.key_file={tmp_path / 'k'}",
                                 "privacy.persist_fields=[event_count, anomaly.block_events]"])
    params = cfg.features.params()
    rt = FoldRuntime(FoldOptions.from_config(cfg), params)
    ps = Pseudonymizer(KEY)
    assert rt.user_key("alice") == ps("alice")
    assert json.loads(rt.dead_raw(json.dumps(EV)))["user_id"] == ps("alice")
    assert rt.dead_raw("{broken alice") == "<redacted: unparseable payload>"
    assert "alice" not in rt.ambiguous_reason("alice", "bob") and "bob" not in rt.ambiguous_reason("alice", "bob")
    s = UserState(params)
    s.apply(EV, params, rt)
    assert json.loads(rt.features_json(s, params)) == {"event_count": 1, "anomaly": {"block_events": 0}}
    plain = FoldRuntime(FoldOptions(), params)
    assert plain.user_key("alice") == "alice" and plain.dead_raw("{x") == "{x"
    assert "'alice'" in plain.ambiguous_reason("alice", "bob")


def test_runtime_without_a_key_fails_naming_the_setting(monkeypatch):
    monkeypatch.delenv("RECSTREAM_PSEUDONYM_KEY", raising=False)
    cfg = load_config(overrides=["privacy.pseudonymize=true"])
    with pytest.raises(PrivacyKeyError, match="RECSTREAM_PSEUDONYM_KEY"):
        FoldRuntime(FoldOptions.from_config(cfg), cfg.features.params())


def test_population_modes_and_file_round_trip(tmp_path):
    cfg = load_config()
    p = cfg.features.params()
    assert FoldRuntime(FoldOptions(), p).population is None  # frozen without a file: the prior
    learn = FoldRuntime(FoldOptions(population_mode="learn"), p).population
    assert isinstance(learn, PopulationStats) and not learn.frozen
    for x in range(40):
        learn.add(float(x % 7), EV["event_time"] + x * 60_000)
    path = save_population(learn, tmp_path / "pop.json")
    frozen = FoldRuntime(FoldOptions(population_file=str(path)), p).population
    assert frozen.frozen and frozen.baseline(p.anomaly) == pytest.approx(learn.baseline(p.anomaly), rel=1e-12)
    frozen.add(100.0, EV["event_time"])  # reads only
    assert frozen.baseline(p.anomaly) == pytest.approx(learn.baseline(p.anomaly), rel=1e-12)
    other = load_config(overrides=["features.anomaly.population_half_life_h=1"]).features.params()
    with pytest.raises(ValueError, match="half-life"):
        load_population(path, other.anomaly)


def test_embeddings_file_round_trip_and_errors(tmp_path):
    m = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_embeddings(tmp_path / "e", ["a", "b", "c"], m, {"note": "x"})
    t = EmbeddingTable.load(tmp_path / "e")
    assert len(t) == 3 and "b" in t and t.get("zz") is None and t.dim == 4
    np.testing.assert_array_equal(t.get("b"), m[1])
    assert t.get("b").dtype == np.float32 and type(t.get("b")) is np.ndarray
    assert json.loads((tmp_path / "e" / "embeddings.json").read_text())["n_items"] == 3
    with pytest.raises(EmbeddingsFileError, match="duplicate"):
        write_embeddings(tmp_path / "d", ["a", "a"], m[:2])
    with pytest.raises(EmbeddingsFileError, match="missing"):
        EmbeddingTable.load(tmp_path / "nowhere")
    (tmp_path / "e" / "item_ids.json").write_text('["a"]')
    with pytest.raises(EmbeddingsFileError, match="does not fit"):
        EmbeddingTable.load(tmp_path / "e")


def test_content_switch_needs_an_embeddings_file():
    from recstream.config import ConfigError

    with pytest.raises(ConfigError, match="embeddings_path"):
        load_config(overrides=["features.content.enabled=true"])
