import json
import pickle

import pytest

from recstream.config.feature_sections import PrivacyConfig
from udfs.features.params import FeatureParams
from udfs.features.user_state import UserState
from udfs.privacy import FieldAllowList, PrivacyKeyError, Pseudonymizer, load_key, main

RFC4231_KEY = b"\x0b" * 20  # RFC 4231 test case 1
KEY = b"0123456789abcdef0123"


def test_pseudonym_is_hmac_sha256_rfc4231_vector():
    full = Pseudonymizer(RFC4231_KEY, digest_chars=64)
    assert full("Hi There") == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    assert Pseudonymizer(RFC4231_KEY)("Hi There") == "b0344c61d8db38535ca8afceaf0bf12b"


def test_pseudonyms_are_stable_per_key_and_distinct_across_keys_and_users():
    a, b = Pseudonymizer(KEY), Pseudonymizer(KEY[::-1])
    assert a("u00001") == a("u00001") != a("u00002")
    assert a("u00001") != b("u00001")
    assert len({a(f"u{i}") for i in range(5000)}) == 5000


def test_event_and_payload_pseudonymisation():
    ps = Pseudonymizer(KEY)
    e = {"event_id": "e1", "user_id": "alice", "item_id": "i1", "event_type": "view", "event_time": 1}
    out = ps.event(e)
    assert out["user_id"] == ps("alice") and e["user_id"] == "alice" and out["item_id"] == "i1"
    assert json.loads(ps.payload(json.dumps(e)))["user_id"] == ps("alice")
    assert "alice" not in ps.payload('{"user_id": "alice", "event_time": "yesterday"')  # truncated JSON
    assert ps.payload('["alice", "i1"]') == "<redacted: not a JSON object>"
    assert json.loads(ps.payload('{"item_id": "i1"}')) == {"item_id": "i1"}


def test_key_from_env_or_file_with_clear_errors_that_never_show_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("RS_TEST_KEY", raising=False)
    with pytest.raises(PrivacyKeyError, match=r"\$RS_TEST_KEY") as err:
        load_key("RS_TEST_KEY")
    assert "privacy.key_file" in str(err.value)
    monkeypatch.setenv("RS_TEST_KEY", "short-secret")
    with pytest.raises(PrivacyKeyError, match="12 bytes") as err:
        load_key("RS_TEST_KEY")
    assert "short-secret" not in str(err.value)
    monkeypatch.setenv("RS_TEST_KEY", "an-env-secret-of-enough-length\n")
    assert load_key("RS_TEST_KEY") == b"an-env-secret-of-enough-length"
    f = tmp_path / "key"
    f.write_bytes(b"a-file-secret-of-enough-length\n")
    assert load_key("RS_TEST_KEY", f) == b"a-file-secret-of-enough-length"  # the file wins
    with pytest.raises(PrivacyKeyError, match="cannot read"):
        load_key("RS_TEST_KEY", tmp_path / "missing")


def test_from_config_disabled_enabled_and_missing_key(monkeypatch, tmp_path):
    assert Pseudonymizer.from_config(PrivacyConfig()) is None
    monkeypatch.delenv("RECSTREAM_PSEUDONYM_KEY", raising=False)
    with pytest.raises(PrivacyKeyError, match="RECSTREAM_PSEUDONYM_KEY"):
        Pseudonymizer.from_config(PrivacyConfig(pseudonymize=True))
    f = tmp_path / "k"
    f.write_bytes(KEY)
    ps = Pseudonymizer.from_config(PrivacyConfig(pseudonymize=True, key_file=f, digest_chars=20))
    assert ps("u1") == Pseudonymizer(KEY, 20)("u1") and len(ps("u1")) == 20


def test_pseudonymizer_never_exposes_the_key():
    ps = Pseudonymizer(KEY)
    assert "0123456789" not in repr(ps) and "redacted" in repr(ps)
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(ps)
    with pytest.raises(PrivacyKeyError):
        Pseudonymizer(b"short")


def test_allow_list_keeps_listed_paths_only():
    feats = {"counts": {"view": 3, "click": 1}, "window_counts": {"5m": {"view": 1, "click": 1}, "1h": {"view": 2}},
             "interest": {"short": {"a": 1.0}, "long": {"a": 2.0}, "short_long_drift": 0.1},
             "avg_rating": 4.0, "user_items": [{"item_id": "i1"}]}
    f = FieldAllowList(["counts", "interest.short", "window_counts.*.click", "user_items", "avg_rating.x"])
    assert f.filter(feats) == {"counts": {"view": 3, "click": 1}, "interest": {"short": {"a": 1.0}},
                               "window_counts": {"5m": {"click": 1}}, "user_items": [{"item_id": "i1"}]}
    assert FieldAllowList(None).filter(feats) is feats
    assert FieldAllowList(["*"]).filter(feats) == feats
    assert FieldAllowList([]).filter(feats) == {}
    # a specific key and '*' at the same level combine
    g = FieldAllowList(["a.*.x", "a.b.y"])
    assert g.filter({"a": {"b": {"x": 1, "y": 2, "z": 3}, "q": {"x": 4, "y": 5}}}) == \
        {"a": {"b": {"x": 1, "y": 2}, "q": {"x": 4}}}
    with pytest.raises(ValueError, match="bad allow-list path"):
        FieldAllowList(["a..b"])


def test_allow_list_on_real_user_features():
    p = FeatureParams()
    s = UserState(p)
    s.apply({"event_id": "e", "user_id": "u", "item_id": "i", "event_type": "view", "event_time": 1,
             "category": "c"}, p)
    out = FieldAllowList(["event_count", "interest.long"]).filter(s.features(p))
    assert out == {"event_count": 1, "interest": {"long": {"c": 1.0}}}


def test_cli_prints_pseudonyms_and_fails_clearly_without_key(monkeypatch, capsys):
    monkeypatch.setenv("RECSTREAM_PSEUDONYM_KEY", KEY.decode())
    assert main(["alice", "bob"]) == 0
    assert capsys.readouterr().out == f"alice\t{Pseudonymizer(KEY)('alice')}\nbob\t{Pseudonymizer(KEY)('bob')}\n"
    monkeypatch.delenv("RECSTREAM_PSEUDONYM_KEY")
    with pytest.raises(SystemExit) as e:
        main(["alice"])
    assert e.value.code == 2 and "RECSTREAM_PSEUDONYM_KEY" in capsys.readouterr().err
