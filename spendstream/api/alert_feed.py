"""The alert topic as the API serves it: every alert once, in arrival order, pages and subscriptions.

The job is at-least-once, so an alert id seen before is dropped. Each alert has a cursor
(``partition:offset``): a page goes on before it, and a subscriber that reconnects after it
misses nothing and sees nothing twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka.consumer.fetcher import ConsumerRecord

from schemas import SchemaName, codec
from spendstream.api.read_model import BadRequest
from spendstream.api.topic_feed import TopicFeed
from spendstream.config import Config

KEEP = 100_000  # alerts held in memory (the oldest are forgotten first)


@dataclass(frozen=True)
class Detail:
    key: str
    value: str


@dataclass(frozen=True)
class Alert:
    """One alert as the API shows it."""

    alert_id: str
    cursor: str  # resume after this alert: ``after`` of a subscription, ``before`` of a page
    kind: str
    severity: str
    account_id: str
    account_name: str
    service: str
    window_start: datetime
    window_end: datetime
    title: str
    message: str
    details: list[Detail]

    @classmethod
    def of(cls, record: dict, cursor: str) -> Alert:
        return cls(
            alert_id=record["alert_id"],
            cursor=cursor,
            kind=record["kind"],
            severity=record["severity"],
            account_id=record["account_id"],
            account_name=record["account_name"],
            service=record["service"],
            window_start=datetime.fromtimestamp(record["window_start_ms"] / 1000, UTC),
            window_end=datetime.fromtimestamp(record["window_end_ms"] / 1000, UTC),
            title=record["title"],
            message=record["message"],
            details=[Detail(k, v) for k, v in sorted(record["details"].items())],
        )


class AlertFeed(TopicFeed[Alert]):
    role = "alert"

    def __init__(self, config: Config, keep: int = KEEP) -> None:
        super().__init__(config)
        self._alerts: deque[tuple[int, Alert]] = deque(maxlen=keep)  # (sequence, alert) in arrival order
        self._sequence_of: dict[str, int] = {}  # cursor → sequence, for the alerts held
        self._ids: set[str] = set()
        self._sequence = 0

    def take(self, record: ConsumerRecord) -> Alert | None:
        alert = Alert.of(codec().decode(record.value, SchemaName.ALERT), f"{record.partition}:{record.offset}")
        if alert.alert_id in self._ids:
            return None  # a repeat of an at-least-once write: the same alert id
        if len(self._alerts) == self._alerts.maxlen:
            _, oldest = self._alerts[0]
            self._ids.discard(oldest.alert_id)
            self._sequence_of.pop(oldest.cursor, None)
        self._sequence += 1
        self._alerts.append((self._sequence, alert))
        self._sequence_of[alert.cursor] = self._sequence
        self._ids.add(alert.alert_id)
        return alert

    def _after(self, cursor: str | None) -> int:
        """The sequence of the alert at ``cursor`` (0: from the first held)."""
        if cursor is None:
            return 0
        if cursor not in self._sequence_of:
            raise BadRequest(f"unknown cursor {cursor!r}: pass the cursor of an alert this API served")
        return self._sequence_of[cursor]

    def page(self, accounts: set[str], limit: int, before: str | None, kinds: set[str] | None) -> list[Alert]:
        """Alerts of these accounts, newest first, older than the alert at ``before``."""
        with self._lock:
            below = self._after(before) if before else self._sequence + 1
            found = []
            for sequence, alert in reversed(self._alerts):
                if len(found) == limit:
                    break
                if sequence < below and alert.account_id in accounts and (not kinds or alert.kind in kinds):
                    found.append(alert)
            return found

    def alerts(
        self, accounts: set[str], after: str | None, kinds: set[str] | None, until: float
    ) -> AsyncIterator[Alert]:
        """The alerts after ``after``, then each new one, until the token's expiry ``until``."""

        def wants(alert: Alert) -> bool:
            return alert.account_id in accounts and (not kinds or alert.kind in kinds)

        def backlog() -> list[Alert]:
            start = self._after(after)
            return [alert for sequence, alert in self._alerts if sequence > start and wants(alert)]

        return self.stream(wants, backlog, until)
