"""Client settings for both Kafka clients recstream uses, from one ``KafkaConfig``.

* confluent-kafka (librdkafka) for tooling: ``recstream topics``, ``recstream produce``, tests;
* the Java client inside Flink's Kafka connector (``properties.*`` table options).

The SASL password is read here from the environment variable or file the config
names; it is never part of the config, and never printed: ``redacted()`` masks it
for anything that is shown to a person.
"""
from __future__ import annotations

import os

SECRET_KEYS = ("sasl.password", "sasl.jaas.config", "ssl.key.password")
_JAAS_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


class KafkaConfigError(ValueError):
    pass


def sasl_password(security) -> str:
    if security.sasl_password_file:
        try:
            return security.sasl_password_file.read_text().strip()
        except OSError as exc:
            raise KafkaConfigError(f"cannot read kafka.security.sasl_password_file: {exc.strerror}") from None
    if security.sasl_password_env and security.sasl_password_env in os.environ:
        return os.environ[security.sasl_password_env]
    raise KafkaConfigError(
        f"kafka.security.protocol={security.protocol} needs a password: set the environment variable "
        f"{security.sasl_password_env or '(kafka.security.sasl_password_env)'} or kafka.security.sasl_password_file")


def librdkafka_config(kafka) -> dict[str, str]:
    """Settings for confluent-kafka Producer/Consumer/AdminClient."""
    sec = kafka.security
    conf = {"bootstrap.servers": kafka.bootstrap_servers, "security.protocol": sec.protocol.lower()}
    if sec.protocol.startswith("SASL"):
        conf.update({"sasl.mechanism": sec.sasl_mechanism, "sasl.username": sec.sasl_username,
                     "sasl.password": sasl_password(sec)})
    if sec.ssl_ca_location:
        conf["ssl.ca.location"] = str(sec.ssl_ca_location)
    if sec.ssl_certificate_location:
        conf["ssl.certificate.location"] = str(sec.ssl_certificate_location)
    if sec.ssl_key_location:
        conf["ssl.key.location"] = str(sec.ssl_key_location)
    conf.update(kafka.properties)
    return conf


def java_client_properties(kafka) -> dict[str, str]:
    """Settings for the Java client in Flink's connector (without the ``properties.`` prefix).

    Java wants PEM files through ``ssl.*.type=PEM`` + ``*.location``, and SASL through a JAAS line.
    """
    sec = kafka.security
    props = {"bootstrap.servers": kafka.bootstrap_servers, "security.protocol": sec.protocol}
    if sec.protocol.startswith("SASL"):
        user = sec.sasl_username.replace('"', '\\"')
        password = sasl_password(sec).replace('"', '\\"')
        props["sasl.mechanism"] = sec.sasl_mechanism
        props["sasl.jaas.config"] = (f'{_JAAS_MODULES[sec.sasl_mechanism]} required '
                                     f'username="{user}" password="{password}";')
    if sec.ssl_ca_location:
        props["ssl.truststore.type"] = "PEM"
        props["ssl.truststore.location"] = str(sec.ssl_ca_location)
    if sec.ssl_certificate_location and sec.ssl_key_location:
        # Java's PEM keystore wants certificate chain and key in one file
        props["ssl.keystore.type"] = "PEM"
        props["ssl.keystore.location"] = str(sec.ssl_key_location)
    props.update(kafka.properties)
    return props


def redacted(conf: dict[str, str]) -> dict[str, str]:
    return {k: ("***" if k in SECRET_KEYS or "password" in k else v) for k, v in conf.items()}
