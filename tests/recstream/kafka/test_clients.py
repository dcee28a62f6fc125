"""Kafka client settings from config: security passthrough, secrets only from env/file, never shown."""
import pytest

from recstream.config import ConfigError, load_config
from recstream.kafka.clients import KafkaConfigError, java_client_properties, librdkafka_config, redacted


def test_plaintext_defaults():
    k = load_config(overrides=["kafka.bootstrap_servers=b1:9092,b2:9092"]).kafka
    assert librdkafka_config(k) == {"bootstrap.servers": "b1:9092,b2:9092", "security.protocol": "plaintext"}
    assert java_client_properties(k) == {"bootstrap.servers": "b1:9092,b2:9092", "security.protocol": "PLAINTEXT"}


def test_sasl_password_from_env_reaches_both_clients_and_is_redacted(monkeypatch):
    monkeypatch.setenv("MY_KAFKA_PW", 's3cr"et')
    k = load_config(overrides=["kafka.security.protocol=SASL_SSL", "kafka.security.sasl_mechanism=SCRAM-SHA-512",
                               "kafka.security.sasl_username=svc", "kafka.security.sasl_password_env=MY_KAFKA_PW",
                               "kafka.security.ssl_ca_location=/etc/ca.pem"]).kafka
    rd = librdkafka_config(k)
    assert rd["sasl.password"] == 's3cr"et' and rd["sasl.mechanism"] == "SCRAM-SHA-512"
    assert rd["ssl.ca.location"] == "/etc/ca.pem"
    java = java_client_properties(k)
    assert java["sasl.jaas.config"] == ('org.apache.kafka.common.security.scram.ScramLoginModule required '
                                        'username="svc" password="s3cr\\"et";')
    assert java["ssl.truststore.type"] == "PEM" and java["ssl.truststore.location"] == "/etc/ca.pem"
    for shown in (redacted(rd), redacted(java)):
        assert "s3cr" not in repr(shown)
    assert "s3cr" not in repr(k)  # the config never holds the password


def test_password_file_wins_and_missing_password_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("RECSTREAM_KAFKA_PASSWORD", raising=False)
    base = ["kafka.security.protocol=SASL_PLAINTEXT", "kafka.security.sasl_mechanism=PLAIN",
            "kafka.security.sasl_username=svc"]
    with pytest.raises(KafkaConfigError, match="RECSTREAM_KAFKA_PASSWORD"):
        librdkafka_config(load_config(overrides=base).kafka)
    pw = tmp_path / "pw"
    pw.write_text("from-file\n")
    k = load_config(overrides=base + [f"kafka.security.sasl_password_file={pw}"]).kafka
    assert librdkafka_config(k)["sasl.password"] == "from-file"
    with pytest.raises(KafkaConfigError, match="cannot read"):
        librdkafka_config(load_config(overrides=base + [f"kafka.security.sasl_password_file={tmp_path / 'no'}"]).kafka)


def test_config_validation_names_the_problem():
    with pytest.raises(ConfigError, match="sasl_mechanism and sasl_username"):
        load_config(overrides=["kafka.security.protocol=SASL_SSL"])
    with pytest.raises(ConfigError, match="start_timestamp_ms"):
        load_config(overrides=["kafka.start=timestamp"])
    with pytest.raises(ConfigError, match="kafka"):
        load_config(overrides=["kafka.topicz.events=x"])


def test_extra_properties_pass_through():
    k = load_config(overrides=["kafka.properties={'client.rack': 'eu-1a'}"]).kafka
    assert librdkafka_config(k)["client.rack"] == "eu-1a"
    assert java_client_properties(k)["client.rack"] == "eu-1a"


def test_dead_letter_record_carries_reason_payload_and_origin():
    import json

    from flink_jobs.kafka_job import dead_letter_json

    rec = json.loads(dead_letter_json(("parse", "invalid JSON", "{x", "recstream.events/3/4711"), "run-1"))
    assert rec == {"stage": "parse", "reason": "invalid JSON", "raw": "{x", "run_id": "run-1",
                   "topic": "recstream.events", "partition": 3, "offset": 4711}
    rec = json.loads(dead_letter_json(("late", "late: ...", "{}", ""), "r"))
    assert rec["topic"] == "" and rec["partition"] is None and rec["offset"] is None
