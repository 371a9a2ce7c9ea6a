"""The job's live hourly totals (the live aggregate topic) as the API serves them to subscribers.

Each record is the running total of an open hour for one key (account, service, region, …); a
newer one replaces it. The feed keeps the latest total of each key of each account's newest
hours, so a new subscriber first gets where the account's current hour stands, then each update.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from kafka.consumer.fetcher import ConsumerRecord

from schemas import SchemaName, codec
from spendstream.api.read_model import MICRO
from spendstream.api.topic_feed import TopicFeed
from spendstream.config import Config

HOURS_KEPT = 3  # per account: the newest open hours (later records of older ones still pass through)


@dataclass(frozen=True)
class CostUpdate:
    account_id: str
    hour: datetime
    service: str
    region: str
    charge_type: str
    cost_center: str
    usd: str  # the hour's running total for this key, exact
    line_items: int


class CostFeed(TopicFeed[CostUpdate]):
    role = "live_aggregate"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        # account → hour → key → latest update
        self._latest: dict[str, dict[datetime, dict[tuple, CostUpdate]]] = defaultdict(dict)

    def take(self, record: ConsumerRecord) -> CostUpdate | None:
        row = codec().decode(record.value, SchemaName.COST_AGGREGATE)
        update = CostUpdate(
            account_id=row["account_id"],
            hour=datetime.fromtimestamp(row["window_start_ms"] / 1000, UTC),
            service=row["service"],
            region=row["region"],
            charge_type=row["charge_type"],
            cost_center=row["cost_center"],
            usd=str(Decimal(row["unblended_cost"]).quantize(MICRO)),
            line_items=row["line_items"],
        )
        hours = self._latest[update.account_id]
        key = (update.service, update.region, update.charge_type, update.cost_center)
        hours.setdefault(update.hour, {})[key] = update
        for old in sorted(hours)[:-HOURS_KEPT]:
            del hours[old]
        return update

    def updates(self, account_id: str, until: float) -> AsyncIterator[CostUpdate]:
        """Where the account's newest hour stands, then each update as the job sends it."""

        def backlog() -> list[CostUpdate]:
            hours = self._latest.get(account_id) or {}
            return sorted(hours[max(hours)].values(), key=lambda u: (u.service, u.region)) if hours else []

        return self.stream(lambda update: update.account_id == account_id, backlog, until)
