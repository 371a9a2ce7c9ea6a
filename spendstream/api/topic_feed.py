"""A topic as the API serves it live: read once per API process, fanned out to subscribers.

One consumer thread reads the topic from its first retained record; a subclass decides what to
keep of each record (``take``) and what a new subscriber is owed first (its backlog). Each
subscriber has a queue on its own event loop; one that falls more than ``QUEUE_LIMIT`` items
behind is ended (``FellBehind``) instead of growing without bound. If the broker cannot be
reached, ``error`` says why and the rest of the API keeps serving.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from connectors.kafka_io import consumer
from spendstream.api.access import Unauthorized
from spendstream.config import Config

QUEUE_LIMIT = 10_000
Item = TypeVar("Item")


class FellBehind(Exception):
    """A subscriber read too slowly; the message says how to resume."""


@dataclass(eq=False)
class _Subscriber(Generic[Item]):
    loop: asyncio.AbstractEventLoop
    wants: Callable[[Item], bool]
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: bool = False

    def offer(self, item: Item) -> None:  # on the subscriber's event loop
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class TopicFeed(Generic[Item]):
    role = ""  # the topic's role in config.kafka.topics

    def __init__(self, config: Config) -> None:
        self.config = config
        self._subscribers: set[_Subscriber[Item]] = set()
        self._lock = threading.Lock()  # guards what take() keeps and the subscriber set
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{self.role}-feed", daemon=True)
        self.error: str | None = None  # why the topic cannot be read now

    def take(self, record: ConsumerRecord) -> Item | None:
        """Keep what the API needs of a record (under the lock); None: nothing new for subscribers."""
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        topic = self.config.kafka.topic(self.role)
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
            except Exception as error:  # noqa: BLE001 — the API keeps serving; requests for this feed say why
                self.error = f"the topic {topic} cannot be read: {error}"
                self._stop.wait(2)

    def _read(self, reader) -> None:
        try:
            while not self._stop.is_set():
                for batch in reader.poll(timeout_ms=200).values():
                    for record in batch:
                        self._add(record)
        finally:
            reader.close()

    def _add(self, record: ConsumerRecord) -> None:
        with self._lock:
            item = self.take(record)
            if item is None:
                return
            listeners = [s for s in self._subscribers if s.wants(item)]
        for subscriber in listeners:
            subscriber.loop.call_soon_threadsafe(subscriber.offer, item)

    async def stream(
        self, wants: Callable[[Item], bool], backlog: Callable[[], list[Item]], until: float
    ) -> AsyncIterator[Item]:
        """``backlog()`` (taken under the lock, so nothing falls between), then each new item, until ``until``."""
        subscriber = _Subscriber(asyncio.get_running_loop(), wants)
        with self._lock:
            owed = backlog()
            self._subscribers.add(subscriber)
        try:
            for item in owed:
                yield item
            while True:
                if subscriber.overflowed and subscriber.queue.empty():
                    raise FellBehind("this subscription fell behind: subscribe again (after its last cursor)")
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
