"""The API's live feeds without a broker: what a subscriber is owed, in order, once, and when it ends."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from schemas import SchemaName, codec
from spendstream.api import topic_feed
from spendstream.api.access import Unauthorized
from spendstream.api.alert_feed import AlertFeed
from spendstream.api.read_model import BadRequest
from spendstream.config import Config


def record(offset: int, account: str = "111", alert_id: str | None = None, kind: str = "anomaly"):
    alert = {
        "alert_id": alert_id or f"a{offset}", "kind": kind, "severity": "warning", "account_id": account,
        "account_name": "x", "service": "EC2", "window_start_ms": 0, "window_end_ms": 3_600_000, "title": "t",
        "message": "m", "details": {},
    }  # fmt: skip
    return SimpleNamespace(partition=0, offset=offset, value=codec().encode(SchemaName.ALERT, alert))


def test_pages_go_newest_first_by_cursor_and_keep_each_alert_id_once():
    feed = AlertFeed(Config())
    for offset in range(6):
        feed._add(record(offset, account="111" if offset != 2 else "222"))
    feed._add(record(6, alert_id="a1"))  # the job wrote a1 again (at-least-once)
    first = feed.page({"111"}, 2, None, None)
    assert [a.alert_id for a in first] == ["a5", "a4"]
    rest = feed.page({"111"}, 10, first[-1].cursor, None)
    assert [a.alert_id for a in rest] == ["a3", "a1", "a0"]
    with pytest.raises(BadRequest, match="unknown cursor"):
        feed.page({"111"}, 10, "0:99", None)


async def take(stream, count: int) -> list[str]:
    return [(await anext(stream)).alert_id for _ in range(count)]


def test_a_subscriber_gets_what_follows_its_cursor_then_each_new_alert_once():
    async def scenario():
        feed = AlertFeed(Config())
        for offset in range(3):
            feed._add(record(offset))
        stream = feed.alerts({"111"}, "0:0", None, until=time.time() + 60)
        assert await take(stream, 2) == ["a1", "a2"]
        feed._add(record(3, account="222"))
        feed._add(record(4, alert_id="a2"))  # a repeat: not sent again
        feed._add(record(5))
        assert await take(stream, 1) == ["a5"]
        await stream.aclose()

    asyncio.run(scenario())


def test_a_slow_subscriber_is_ended_after_what_it_was_sent_and_an_expired_token_ends_the_stream(monkeypatch):
    monkeypatch.setattr(topic_feed, "QUEUE_LIMIT", 2)

    async def scenario():
        feed = AlertFeed(Config())
        slow = feed.alerts({"111"}, None, None, until=time.time() + 60)
        feed._add(record(0))
        assert await take(slow, 1) == ["a0"]  # subscribed, queue empty
        for offset in range(1, 5):
            feed._add(record(offset))
        await asyncio.sleep(0)  # the offers run on this loop
        assert await take(slow, 2) == ["a1", "a2"]  # what fitted in its queue
        with pytest.raises(topic_feed.FellBehind):
            await anext(slow)
        expiring = feed.alerts({"111"}, "0:4", None, until=time.time() + 0.2)
        with pytest.raises(Unauthorized, match="expired"):
            await anext(expiring)

    asyncio.run(scenario())
