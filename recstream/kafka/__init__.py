"""Kafka in and out: client settings, topics, the replay producer, connector jars and a test broker."""
