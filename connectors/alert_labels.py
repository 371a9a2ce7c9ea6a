"""People's verdicts on alerts: ``spendstream alerts mark`` writes them, ``spendstream models`` reads them.

A label is keyed by its alert id on a compacted topic, so the latest verdict on an alert is the
one that stands (a mistaken mark is corrected by marking again) and none expires.
"""

from __future__ import annotations

import time

from connectors.kafka_io import ensure_topics, producer
from connectors.topic_reader import retained
from schemas import SchemaName, codec
from spendstream.config import Config

VERDICTS = ("confirmed", "false_positive")
MIN_PREFIX = 8  # characters of an alert id that name it (alerts tail prints 12)


class UnknownAlertError(ValueError):
    """No alert, or more than one, has the id given."""


def find_alert(config: Config, alert_id: str) -> dict:
    """The retained alert whose id is ``alert_id`` or starts with it."""
    if len(alert_id) < MIN_PREFIX:
        raise UnknownAlertError(f"alert id {alert_id!r} is too short: give at least {MIN_PREFIX} characters")
    found = {}
    for record in retained(config, "alert"):
        alert = codec().decode(record.value, SchemaName.ALERT)
        if alert["alert_id"].startswith(alert_id):
            found[alert["alert_id"]] = alert
    if len(found) != 1:
        what = "no alert" if not found else f"{len(found)} alerts"
        raise UnknownAlertError(
            f"{what} on {config.kafka.topic('alert')} with id {alert_id!r}; "
            "`spendstream alerts tail --from-beginning` lists the retained alerts and their ids"
        )
    return next(iter(found.values()))


def mark_alert(config: Config, alert_id: str, verdict: str, note: str = "") -> dict:
    """Write a person's verdict on an alert; returns the label as written."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r}: expected one of {', '.join(VERDICTS)}")
    alert = find_alert(config, alert_id)
    label = {
        "alert_id": alert["alert_id"],
        "verdict": verdict,
        "kind": alert["kind"],
        "account_id": alert["account_id"],
        "service": alert["service"],
        "window_start_ms": alert["window_start_ms"],
        "marked_at_ms": int(time.time() * 1000),
        "note": note,
        "episode_id": alert["details"].get("episode_id"),
    }
    ensure_topics(config)
    out = producer(config)
    try:
        out.send(
            config.kafka.topic("alert_label"),
            key=label["alert_id"].encode(),
            value=codec().encode(SchemaName.ALERT_LABEL, label),
        ).get(timeout=30)
    finally:
        out.close()
    return label


def alert_labels(config: Config) -> dict[str, dict]:
    """The standing verdict on every marked alert, by alert id."""
    labels = {}
    for record in retained(config, "alert_label"):
        label = codec().decode(record.value, SchemaName.ALERT_LABEL)
        labels[label["alert_id"]] = label
    return labels
