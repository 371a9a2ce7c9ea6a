"""Alert consumers: ``spendstream alerts tail`` prints alerts as they arrive."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from kafka import TopicPartition
from rich.console import Console

from connectors.kafka_io import consumer
from schemas import SchemaName, codec
from spendstream.config import Config

SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "critical": "bold red"}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def read_alerts(config: Config, from_beginning: bool, group: str | None, until_idle_s: float | None) -> Iterator[dict]:
    """Decoded alerts in arrival order; commits after each one when reading in a group.

    Without a group, ``from_beginning`` reads every retained alert; otherwise reading starts at
    the end of the topic (on Tansu, "end" may repeat the last few alerts; ids make that harmless).
    """
    topic = config.kafka.topic("alert")
    source = consumer(config, group, from_beginning=from_beginning)
    if group:
        source.subscribe([topic])
    else:
        partitions = [TopicPartition(topic, p) for p in sorted(source.partitions_for_topic(topic) or [])]
        source.assign(partitions)
        (source.seek_to_beginning if from_beginning else source.seek_to_end)(*partitions)
    idle_since = time.monotonic()
    try:
        while until_idle_s is None or time.monotonic() - idle_since < until_idle_s:
            batches = source.poll(timeout_ms=500)
            if group and not source.assignment():
                idle_since = time.monotonic()
            for record in (r for batch in batches.values() for r in batch):
                idle_since = time.monotonic()
                yield codec().decode(record.value, SchemaName.ALERT)
                if group:
                    source.commit()
    finally:
        source.close(autocommit=False)


def alert_json(alert: dict) -> str:
    return json.dumps(
        {**alert, "window_start": iso(alert["window_start_ms"]), "window_end": iso(alert["window_end_ms"])},
        sort_keys=True,
    )


def print_alerts(
    config: Config,
    console: Console,
    as_json: bool,
    from_beginning: bool,
    group: str | None,
    until_idle_s: float | None,
) -> int:
    count = 0
    for alert in read_alerts(config, from_beginning, group, until_idle_s):
        count += 1
        if as_json:
            print(alert_json(alert), flush=True)
            continue
        style = SEVERITY_STYLE.get(alert["severity"], "")
        console.print(
            f"{iso(alert['window_end_ms'])}  [{style}]{alert['severity']:<8}[/]  {alert['kind']:<7} "
            f"{alert['title']}  [dim]{alert['alert_id'][:12]}[/]"
        )
        console.print(f"    {alert['message']}", style="dim")
    return count
