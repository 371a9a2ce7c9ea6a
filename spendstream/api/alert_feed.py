"""The alert topic as the API serves it: read once per API process, kept in memory, fanned out.

One consumer thread reads the alert topic from its first retained record and keeps each alert
once (the job is at-least-once: a repeated alert id is dropped), in arrival order, with its
cursor (``partition:offset``). Pages are served from memory; each subscriber gets the alerts
after the cursor it resumes from, then every new one as it arrives, so a client that reconnects
with its last cursor misses nothing and sees nothing twice. A subscriber that falls more than
``QUEUE_LIMIT`` alerts behind is ended with the cursor to resume from, instead of growing
without bound.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka import TopicPartition

from connectors.kafka_io import consumer
from schemas import SchemaName, codec
from spendstream.api.access import Unauthorized
from spendstream.api.read_model import BadRequest
from spendstream.config import Config

QUEUE_LIMIT = 10_000
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


class FellBehind(Exception):
    """A subscriber read too slowly; it resumes from the cursor in the message."""


@dataclass(eq=False)
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    accounts: frozenset[str]
    kinds: frozenset[str] | None
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: bool = False

    def wants(self, alert: Alert) -> bool:
        return alert.account_id in self.accounts and (self.kinds is None or alert.kind in self.kinds)

    def offer(self, alert: Alert) -> None:  # on the subscriber's event loop
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.overflowed = True


class AlertFeed:
    def __init__(self, config: Config, keep: int = KEEP) -> None:
        self.config = config
        self._alerts: deque[tuple[int, Alert]] = deque(maxlen=keep)  # (sequence, alert) in arrival order
        self._sequence_of: dict[str, int] = {}  # cursor → sequence, for the alerts held
        self._ids: set[str] = set()
        self._sequence = 0
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-feed", daemon=True)
        self.error: str | None = None  # why the topic cannot be read now, for a 503

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        topic = self.config.kafka.topic("alert")
        while not self._stop.is_set():
            try:
                reader = consumer(self.config, None, from_beginning=True, fetch_max_wait_ms=100)
                partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or [])]
                if not partitions:
                    reader.close()
                    self._stop.wait(1)  # the topic does not exist yet: the job creates it
                    continue
                reader.assign(partitions)
                reader.seek_to_beginning(*partitions)
                self.error = None
                self._read(reader)
            except Exception as error:  # noqa: BLE001 — the API keeps serving; alert requests say why
                self.error = f"the alert topic {topic} cannot be read: {error}"
                self._stop.wait(2)

    def _read(self, reader) -> None:
        try:
            while not self._stop.is_set():
                for batch in reader.poll(timeout_ms=200).values():
                    for record in batch:
                        cursor = f"{record.partition}:{record.offset}"
                        self._add(Alert.of(codec().decode(record.value, SchemaName.ALERT), cursor))
        finally:
            reader.close()

    def _add(self, alert: Alert) -> None:
        with self._lock:
            if alert.alert_id in self._ids:
                return  # a repeat of an at-least-once write: the same alert id
            if len(self._alerts) == self._alerts.maxlen:
                _, oldest = self._alerts[0]
                self._ids.discard(oldest.alert_id)
                self._sequence_of.pop(oldest.cursor, None)
            self._sequence += 1
            self._alerts.append((self._sequence, alert))
            self._sequence_of[alert.cursor] = self._sequence
            self._ids.add(alert.alert_id)
            listeners = [s for s in self._subscribers if s.wants(alert)]
        for subscriber in listeners:
            subscriber.loop.call_soon_threadsafe(subscriber.offer, alert)

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

    async def stream(
        self, accounts: set[str], after: str | None, kinds: set[str] | None, until: float
    ) -> AsyncIterator[Alert]:
        """The alerts after ``after``, then each new one, until the time ``until`` (the token's expiry)."""
        subscriber = _Subscriber(asyncio.get_running_loop(), frozenset(accounts), frozenset(kinds) if kinds else None)
        with self._lock:
            start = self._after(after)
            backlog = [alert for sequence, alert in self._alerts if sequence > start and subscriber.wants(alert)]
            self._subscribers.add(subscriber)
        try:
            for alert in backlog:
                yield alert
            while True:
                if subscriber.overflowed and subscriber.queue.empty():
                    raise FellBehind(
                        "this subscription fell too far behind: subscribe again with after = its last cursor"
                    )
                remaining = until - time.time()
                if remaining <= 0:
                    raise Unauthorized("the token has expired: subscribe again with a new one")
                try:
                    yield await asyncio.wait_for(subscriber.queue.get(), timeout=remaining)
                except TimeoutError:
                    continue
        finally:
            with self._lock:
                self._subscribers.discard(subscriber)
