"""Custom JSON cost and metric events (HTTP ingest) as wire records: validated, exact, with deterministic ids.

Each function turns one JSON object into (key, Avro value, event-time timestamp) or raises
RejectedRow with the reason; the HTTP side takes a batch whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.cost_event import ChargeType, RejectedRow, event_id, exact_decimal
from pipelines.metrics import metric_id, sample_value
from schemas import SchemaName, codec

Validator = Callable[[dict[str, Any]], tuple[bytes, bytes, int]]


def cost_record(item: dict[str, Any]) -> tuple[bytes, bytes, int]:
    """A JSON cost event → (key, Avro value, timestamp); costs must be exact decimal strings."""
    record = {
        "source_format": "ingest",
        "payer_account_id": "",
        "resource_id": "",
        "usage_type": "",
        "region": "global",
        "currency": "USD",
        "usage_amount": "0",
        "tags": {},
        "amortized_cost": "",
        "list_cost": "",
        "billing_period": "",
        **item,
    }
    for money in ("unblended_cost", "net_cost", "usage_amount"):
        if money in record and not isinstance(record[money], str):
            raise RejectedRow(f"{money} must be a decimal string (exact money), not {type(record[money]).__name__}")
    record.setdefault("net_cost", record.get("unblended_cost", ""))
    for money in ("unblended_cost", "net_cost", "usage_amount"):
        record[money] = exact_decimal(str(record.get(money, "")), money)
    if record.get("charge_type", "usage") not in {c.value for c in ChargeType}:
        raise RejectedRow(f"charge_type must be one of {', '.join(c.value for c in ChargeType)}")
    record.setdefault("charge_type", "usage")
    record.setdefault("line_item_type", record["charge_type"])
    if "line_item_id" in record and "usage_start_ms" in record and "usage_end_ms" in record:
        record.setdefault(
            "event_id",
            event_id("ingest", str(record["line_item_id"]), record["usage_start_ms"], record["usage_end_ms"]),
        )
    value = _encode(SchemaName.COST_EVENT, record)
    return str(record["usage_account_id"]).encode(), value, int(record["usage_start_ms"])


def metric_record(item: dict[str, Any]) -> tuple[bytes, bytes, int]:
    record = {
        "source": "ingest",
        "namespace": "custom",
        "unit": "",
        "account_id": "",
        "region": "",
        "dimensions": {},
        **item,
    }
    record["value"] = sample_value(record.get("value"))
    if {"resource_id", "metric", "timestamp_ms"} <= record.keys():
        record.setdefault(
            "metric_id", metric_id(record["resource_id"], record["namespace"], record["metric"], record["timestamp_ms"])
        )
    value = _encode(SchemaName.METRIC_EVENT, record)
    return str(record["resource_id"]).encode(), value, int(record["timestamp_ms"])


def _encode(name: SchemaName, record: dict[str, Any]) -> bytes:
    fields = {f["name"] for f in codec().schema(name)["fields"]}
    unknown = sorted(set(record) - fields)
    if unknown:
        raise RejectedRow(f"unknown field(s) {', '.join(unknown)}")
    missing = sorted(
        f["name"] for f in codec().schema(name)["fields"] if f["name"] not in record and "default" not in f
    )
    if missing:
        raise RejectedRow(f"missing field(s) {', '.join(missing)}")
    try:
        return codec().encode(name, record)
    except (ValueError, TypeError) as error:
        raise RejectedRow(f"does not fit schema {name.value}: {error}") from None
