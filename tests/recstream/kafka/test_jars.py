"""Connector jars: a clear error naming the fix when missing; the PyPI copies match their pinned hashes."""
import pytest

from recstream.kafka.jars import JARS, JarsMissing, connector_jars, sha256


def test_missing_jars_error_says_how_to_get_them(tmp_path):
    (tmp_path / "kafka-clients.jar").write_bytes(b"x")
    with pytest.raises(JarsMissing, match=r"flink-connector-kafka.jar.*recstream kafka jars"):
        connector_jars(tmp_path)


def test_fetched_jars_match_pinned_hashes(kafka_jars):
    paths = connector_jars(kafka_jars)
    assert [p.name for p in paths] == list(JARS)
    for p in paths:
        assert sha256(p) == JARS[p.name][2]
