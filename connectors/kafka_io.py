"""Plain Kafka clients (kafka-python) built from configuration, so any Kafka cluster works.

Tansu, the embedded broker, answers ListOffsets(LATEST) wrongly: nothing here relies on
"latest" offsets or lag; consumers start from committed or earliest offsets.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from spendstream.config import Config, Topic, require

# Tansu takes about half the session timeout to complete a group join, and a rebalance waits up
# to max.poll.interval for members that left without saying so: keep both short.
GROUP_TIMEOUTS = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000, "max_poll_interval_ms": 15000}


def client_settings(config: Config) -> dict[str, Any]:
    """Bootstrap and security settings shared by every client."""
    kafka = config.kafka
    settings: dict[str, Any] = {
        "bootstrap_servers": require(kafka.bootstrap, "Kafka bootstrap", "KAFKA_BOOTSTRAP").split(","),
        "security_protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        settings.update(
            sasl_mechanism=kafka.sasl_mechanism,
            sasl_plain_username=kafka.sasl_username,
            sasl_plain_password=kafka.sasl_password,
        )
    if kafka.ssl_cafile:
        settings["ssl_cafile"] = kafka.ssl_cafile  # kafka-python verifies the broker's certificate and hostname
    return settings


def producer(config: Config) -> KafkaProducer:
    """At-least-once producer: every send acknowledged by the broker, retried on failure."""
    return KafkaProducer(
        **client_settings(config),
        acks="all",
        retries=10,
        linger_ms=20,
        batch_size=512 * 1024,
        max_in_flight_requests_per_connection=1,
    )


def consumer(config: Config, group: str | None, *, from_beginning: bool = False, **extra: Any) -> KafkaConsumer:
    """Manual-commit consumer; offsets are committed by the caller after its work succeeded."""
    return KafkaConsumer(
        **client_settings(config),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning or group else "latest",
        **GROUP_TIMEOUTS,
        **extra,
    )


def topic_configs(topic: Topic) -> dict[str, str]:
    """A compacted topic keeps every key's latest record however old; the others expire by age."""
    if topic.compacted:
        return {"cleanup.policy": "compact"}
    return {"retention.ms": str(topic.retention_ms)}


def ensure_topics(config: Config) -> None:
    """Create the configured topics that do not exist yet (partitions and retention from config)."""
    admin = KafkaAdminClient(**client_settings(config))
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(t.name, t.partitions, 1, topic_configs=topic_configs(t))
            for t in config.kafka.topics.values()
            if t.name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
    finally:
        admin.close()
