"""The account settings topic: changes made while the job runs, and the audit trail of them.

Each change (schemas/account_settings.avsc) is written twice: keyed by the account id, so the
compacted topic keeps the settings that stand (the running job follows them: jobs/java
AccountSettingsLookup), and keyed by account id/version, which compaction never merges, so every
change stays readable with who made it, when, and the entry before and after.
"""

from __future__ import annotations

from connectors.kafka_io import ensure_topics, producer
from connectors.topic_reader import retained
from schemas import SchemaName, codec
from spendstream.config import Config


def settings_changes(config: Config) -> list[dict]:
    """Every change on the topic, oldest first, each once."""
    changes: dict[tuple[str, int], dict] = {}
    for record in retained(config, "account_settings"):
        if record.value is not None:
            change = codec().decode(record.value, SchemaName.ACCOUNT_SETTINGS)
            changes[(change["account_id"], change["version"])] = change
    return sorted(changes.values(), key=lambda change: (change["changed_at_ms"], change["version"]))


def standing_changes(config: Config) -> dict[str, dict]:
    """The latest change of every account changed so far."""
    standing: dict[str, dict] = {}
    for change in settings_changes(config):
        if change["version"] > standing.get(change["account_id"], {}).get("version", 0):
            standing[change["account_id"]] = change
    return standing


def write_change(config: Config, change: dict) -> None:
    """Both records of one change, acknowledged by the broker before this returns."""
    ensure_topics(config)
    value = codec().encode(SchemaName.ACCOUNT_SETTINGS, change)
    topic = config.kafka.topic("account_settings")
    out = producer(config)
    try:
        account = change["account_id"]
        for key in (account, f"{account}/{change['version']}"):
            out.send(topic, key=key.encode(), value=value).get(timeout=30)
    finally:
        out.close()
