"""Deliveries: a billing period's files as one unit that a newer delivery replaces.

AWS delivers a billing period again and again: month to date several times a day, and restated
after the period closed (same line item ids, changed costs, rows added and removed). A delivery
of period P is identified by its content: the SHA-256 of the names and bytes of the files that
hold P's rows. The ledger (``<state_dir>/deliveries/<topic>/<P>.json.gz``) remembers, per topic
and period, the last delivery published and the key-hours it covered.

Replaying a delivery the ledger already holds publishes nothing for that period. Publishing a
newer one republishes the period in full, so every hourly aggregate it covers is recomputed and
overwrites its old value downstream; for each key-hour the older delivery had and the newer one
lacks, a zero-cost *removal* event is published, so that aggregate is overwritten with zero
instead of keeping a stale value. Totals therefore follow the newest delivery, never the sum.

A republished period is *restated*: its rows go to the restated topic, not the raw one, so a
continuously running job never sees them (they would be late there, or land in an open hour
beside the older delivery's rows); a bounded correction run of the job recomputes exactly the
hours they cover (spendstream/restatements.py).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from pipelines.columns import repeated_values
from pipelines.cost_event import ChargeType, CostEvent, CostEventBatch, event_id
from pipelines.ordering import TimedRecord
from schemas import SchemaName, codec

HOUR_MS = 3_600_000
REMOVED = "Removed"  # line_item_type of a removal event; the job does not count it as a line item


KEY_COLUMNS = ("payer_account_id", "usage_account_id", "service", "region", "charge_type", "currency")


class KeyHour(NamedTuple):
    """What decides which hourly aggregates a line item lands in (enrichment derives the rest)."""

    payer_account_id: str
    usage_account_id: str
    service: str
    region: str
    charge_type: str
    currency: str
    tags: str  # canonical JSON
    hour_ms: int


def key_hour(event: CostEvent) -> KeyHour:
    return KeyHour(
        event.payer_account_id,
        event.usage_account_id,
        event.service,
        event.region,
        event.charge_type.value,
        event.currency,
        json.dumps(event.tags, sort_keys=True),
        event.usage_start_ms - event.usage_start_ms % HOUR_MS,
    )


def removal_event(key: KeyHour, period: str, delivery: str) -> CostEvent:
    """A zero-cost line item that makes the aggregate of a vanished key-hour be recomputed (to 0)."""
    line_item = f"{REMOVED.lower()}:{hashlib.sha256(repr(key).encode()).hexdigest()[:24]}"
    end_ms = key.hour_ms + HOUR_MS
    return CostEvent(
        event_id=event_id(f"delivery:{delivery}", line_item, key.hour_ms, end_ms),
        source_format="restatement",
        line_item_id=line_item,
        billing_period=period,
        usage_start_ms=key.hour_ms,
        usage_end_ms=end_ms,
        payer_account_id=key.payer_account_id,
        usage_account_id=key.usage_account_id,
        service=key.service,
        region=key.region,
        resource_id="",
        line_item_type=REMOVED,
        charge_type=ChargeType(key.charge_type),
        usage_type="",
        unblended_cost="0",
        net_cost="0",
        currency=key.currency,
        usage_amount="0",
        tags=json.loads(key.tags),
    )


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class PeriodDelivery:
    """What one replay read of one billing period."""

    files: dict[str, str] = field(default_factory=dict)  # file name → content digest
    key_hours: set[KeyHour] = field(default_factory=set)
    rows: int = 0

    @property
    def delivery_id(self) -> str:
        listing = "\n".join(f"{name} {digest}" for name, digest in sorted(self.files.items()))
        return hashlib.sha256(listing.encode()).hexdigest()[:32]


@dataclass
class DeliveryPlan:
    """Per period: published as a new delivery, or left out because the ledger already has it."""

    published: dict[str, str] = field(default_factory=dict)  # period → delivery id
    restated: dict[str, str] = field(default_factory=dict)  # the published periods the ledger had before
    unchanged: dict[str, str] = field(default_factory=dict)
    removed_key_hours: int = 0
    records: int = 0  # to publish: the rows of new deliveries and their removal events


class DeliveryLedger:
    """The last delivery published per topic and period, on local disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, topic: str, period: str) -> Path:
        return self.root / topic / f"{period}.json.gz"

    def last(self, topic: str, period: str) -> tuple[str, set[KeyHour]] | None:
        path = self._path(topic, period)
        if not path.exists():
            return None
        entry = json.loads(gzip.decompress(path.read_bytes()))
        return entry["delivery"], {KeyHour(*key) for key in entry["key_hours"]}

    def record(self, topic: str, period: str, delivery: PeriodDelivery) -> None:
        path = self._path(topic, period)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "delivery": delivery.delivery_id,
            "published_at": datetime.now(UTC).isoformat(),
            "rows": delivery.rows,
            "files": delivery.files,
            "key_hours": sorted(delivery.key_hours),
        }
        partial = path.with_suffix(".tmp")
        partial.write_bytes(gzip.compress(json.dumps(entry).encode()))
        partial.replace(path)  # a crash never leaves half a ledger entry


class DeliveryTracker:
    """Follows a replay: which periods it read from which files, then what to publish and record."""

    def __init__(self, ledger: DeliveryLedger, topic: str, force: bool = False) -> None:
        self.ledger, self.topic, self.force = ledger, topic, force
        self.periods: dict[str, PeriodDelivery] = defaultdict(PeriodDelivery)
        self.plan = DeliveryPlan()
        self._digests: dict[Path, str] = {}

    def observe(self, path: Path, events: CostEventBatch) -> None:
        """Count a batch of ``path``'s events into its periods' rows, files and key-hours."""
        name = f"{path.parent.name}/{path.name}"  # where the export sits on disk does not matter
        columns = events.columns
        start_ms = columns["usage_start_ms"].to_numpy()
        keys = pa.table(
            {
                **{key: columns[key] for key in KEY_COLUMNS},
                "tags": pa.array(events.tag_index),
                "hour_ms": pa.array(start_ms - start_ms % HOUR_MS),
                "billing_period": columns["billing_period"],
            }
        )
        tags = [json.dumps(tag_map, sort_keys=True) for tag_map in events.tag_maps]
        counts = keys.group_by("billing_period").aggregate([([], "count_all")]).to_pylist()
        for row in counts:
            period = self.periods[row["billing_period"]]
            if name not in period.files:
                if path not in self._digests:
                    self._digests[path] = file_digest(path)
                period.files[name] = self._digests[path]
            period.rows += row["count_all"]
        distinct = keys.group_by(keys.column_names).aggregate([])
        hours = [repeated_values(distinct.column(key).combine_chunks()) for key in KEY_COLUMNS]
        hours.append([tags[index] for index in distinct.column("tags").to_numpy().tolist()])
        hours.append(distinct.column("hour_ms").to_numpy().tolist())
        periods = repeated_values(distinct.column("billing_period").combine_chunks())
        for period, key_hour in zip(periods, zip(*hours, strict=True), strict=True):
            self.periods[period].key_hours.add(KeyHour(*key_hour))

    def removals(self) -> Iterator[TimedRecord]:
        """Called once every row is read: decides the plan, yields removal events of new deliveries."""
        avro = codec()
        for period, delivery in sorted(self.periods.items()):
            last = self.ledger.last(self.topic, period)
            if last is not None and last[0] == delivery.delivery_id and not self.force:
                self.plan.unchanged[period] = delivery.delivery_id
                continue
            self.plan.published[period] = delivery.delivery_id
            if last is not None:
                self.plan.restated[period] = delivery.delivery_id
            self.plan.records += delivery.rows
            for key in sorted(last[1] - delivery.key_hours) if last else ():
                self.plan.removed_key_hours += 1
                self.plan.records += 1
                value = avro.encode(SchemaName.COST_EVENT, removal_event(key, period, delivery.delivery_id).to_record())
                yield TimedRecord(key.hour_ms, key.usage_account_id.encode(), value, period)

    def publishes(self, record: TimedRecord) -> bool:
        return record.group in self.plan.published

    def restates(self, record: TimedRecord) -> bool:
        """Whether ``record`` belongs to a period published before (it goes to the restated topic)."""
        return record.group in self.plan.restated

    def commit(self) -> None:
        """Record the published deliveries; call only once the broker acknowledged every record."""
        for period in self.plan.published:
            self.ledger.record(self.topic, period, self.periods[period])
