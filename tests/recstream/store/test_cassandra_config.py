"""store.cassandra validation: clear errors naming the key, before anything connects."""
import pytest

from recstream.config import ConfigError, load_config
from recstream.store.cassandra.config import HOSTS_ENV, CassandraStoreConfig


def test_defaults_are_a_valid_dev_setup():
    cfg = load_config([], ["store.kind=cassandra"]).store.cassandra
    assert cfg.replication.cql_map() == "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    assert cfg.write_consistency == "LOCAL_QUORUM" and cfg.max_in_flight == 64
    assert cfg.ttl.user_features_s == 30 * 86_400 and cfg.ttl.model_versions_s == 0


def test_network_topology_needs_datacenter_replication_factors():
    with pytest.raises(ConfigError, match=r"store\.cassandra\.replication.*needs replication factors per data"):
        load_config([], ["store.cassandra.replication.strategy=NetworkTopologyStrategy"])
    cfg = load_config([], ["store.cassandra.replication.strategy=NetworkTopologyStrategy",
                           "store.cassandra.replication.datacenters={dc1: 3, dc2: 2}"]).store.cassandra
    assert cfg.replication.cql_map() == "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"


@pytest.mark.parametrize("override, message", [
    ("store.cassandra.replication.datacenters={dc1: 3}", "applies to NetworkTopologyStrategy only"),
    ("store.cassandra.keyspace=bad-name", "must start with a letter"),
    ("store.cassandra.keyspace=x; DROP", "must start with a letter"),
    ("store.cassandra.read_consistency=ANY", "not a read consistency level"),
    ("store.cassandra.write_consistency=MOST", "store.cassandra.write_consistency"),
    ("store.cassandra.ttl.user_features_s=700000000", "less than or equal to 630720000"),
    ("store.cassandra.ttl.user_scores_s=-1", "greater than or equal to 0"),
    ("store.cassandra.tls.cert_file=/x.pem", "cert_file and tls.key_file go together"),
    ("store.cassandra.max_in_flight=0", "store.cassandra.max_in_flight"),
    ("store.cassandra.password=x", "Extra inputs are not permitted"),
    ("store.kind=redis", "store.kind"),
])
def test_bad_settings_are_rejected_with_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config([], [override])


def test_nts_rejects_bad_datacenter_entries():
    with pytest.raises(ConfigError, match="replication factor of data centre 'dc1'"):
        load_config([], ["store.cassandra.replication.strategy=NetworkTopologyStrategy",
                         "store.cassandra.replication.datacenters={dc1: 0}"])
    with pytest.raises(ConfigError, match="data centre name"):
        load_config([], ["store.cassandra.replication.strategy=NetworkTopologyStrategy",
                         "store.cassandra.replication.datacenters={\"dc'1\": 3}"])


def test_contact_points_from_config_or_environment(monkeypatch):
    monkeypatch.delenv(HOSTS_ENV, raising=False)
    with pytest.raises(ValueError, match=f"no Cassandra hosts: set store.cassandra.hosts or \\${HOSTS_ENV}"):
        CassandraStoreConfig().contact_points()
    cfg = CassandraStoreConfig(hosts=["a", "b:9142", "::1"], port=9043)
    assert cfg.contact_points() == [("a", 9043), ("b", 9142), ("::1", 9043)]
    monkeypatch.setenv(HOSTS_ENV, "c1:19042, c2")
    assert CassandraStoreConfig().contact_points() == [("c1", 19042), ("c2", 9042)]
    with pytest.raises(ValueError, match="port must be a number"):
        CassandraStoreConfig(hosts=["h:x"]).contact_points()
