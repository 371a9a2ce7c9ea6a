"""Alert delivery to many GraphQL subscribers of one API process: p99 from the alert topic to each socket.

    python -m bench.api_subscribers [--subscribers 1000] [--alerts 30] [--interval 1.0]

On the embedded stack: one `spendstream api serve` process; the subscribers are WebSockets
(graphql-transport-ws) in this process, all subscribed to one account's alerts. Alerts are
produced to the alert topic one every ``--interval`` seconds, each carrying its send time; a
delivery's latency is its arrival at a subscriber minus that time (one machine, one clock). The
baseline in the same run: one subscriber alone. Target (issue 14): p99 ≤ 1 s at 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from contextlib import closing
from dataclasses import replace

from rich.progress import Progress
from rich.table import Table
from websockets.asyncio.client import connect

from bench.report import publish
from bench.stack import embedded_stack
from connectors.kafka_io import ensure_topics, producer
from schemas import SchemaName, codec
from spendstream.api.access import SECRET_ENV, TokenKeys
from spendstream.api.process import api_server
from spendstream.config import Config, Topic

SECRET = "bench-secret-bench-secret-bench-secret!!"
QUERY = "subscription($a: String!, $after: String) { alerts(accountId: $a, after: $after) { alertId cursor } }"


def alert(account: str, number: int) -> dict:
    now_ms = int(time.time() * 1000)
    return {
        "alert_id": f"{account}-{number}", "kind": "anomaly", "severity": "warning", "account_id": account,
        "account_name": "bench", "service": "AmazonEC2", "window_start_ms": now_ms, "window_end_ms": now_ms,
        "title": f"alert {number}", "message": "bench", "details": {"sent_ns": str(time.time_ns())},
    }  # fmt: skip


async def subscriber(
    url: str, token: str, ready: asyncio.Event, arrivals: dict[str, list[int]], account: str, want: int
):
    """Subscribes to the run's own account (no backlog), then records the arrival of each alert."""
    async with connect(url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        payload = {"query": QUERY, "variables": {"a": account}}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        ready.set()
        got = 0
        while got < want:
            message = json.loads(await socket.recv())
            if message["type"] != "next":
                raise RuntimeError(f"subscription refused: {message}")
            arrivals.setdefault(message["payload"]["data"]["alerts"]["alertId"], []).append(time.time_ns())
            got += 1


async def measure(config: Config, url: str, subscribers: int, alerts: int, interval: float) -> list[float]:
    """Latencies in seconds of every delivery of ``alerts`` new alerts to ``subscribers`` sockets."""
    account = f"bench{time.time_ns() % 10**12:012d}"  # a fresh account: subscribers start with no backlog
    token = TokenKeys("HS256", SECRET.encode()).mint("bench", {account: "read"}, ("viewer",), 3600)
    arrivals: dict[str, list[int]] = {}
    readies = [asyncio.Event() for _ in range(subscribers)]
    tasks = [asyncio.create_task(subscriber(url, token, r, arrivals, account, alerts)) for r in readies]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=120)
    await asyncio.sleep(5)  # every subscription registered with the feed
    sent: dict[str, int] = {}
    with closing(producer(config)) as send:
        for number in range(alerts):
            record = alert(account, number)
            sent[record["alert_id"]] = int(record["details"]["sent_ns"])
            send.send(config.kafka.topic("alert"), key=account.encode(), value=codec().encode(SchemaName.ALERT, record))
            send.flush()
            await asyncio.sleep(interval)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    return [(t - sent[i]) / 1e9 for i, times in arrivals.items() for t in times]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--alerts", type=int, default=30)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between alerts")
    args = parser.parse_args()
    rows = []
    with embedded_stack() as stack:
        topics = {**stack.kafka.topics, "alert": Topic("bench-api-alerts", partitions=1)}
        config = replace(stack, kafka=replace(stack.kafka, topics=topics))
        ensure_topics(config)
        with api_server(config, {SECRET_ENV: SECRET}) as url, Progress() as progress:
            task = progress.add_task("subscriber counts", total=2)
            for count in (1, args.subscribers):
                latencies = asyncio.run(measure(config, url, count, args.alerts, args.interval))
                assert len(latencies) == count * args.alerts, "a delivery is missing"
                rows.append((count, latencies))
                progress.advance(task)
    table = Table(title="Alert delivery to GraphQL subscribers (one API process)")
    for column in ("subscribers", "deliveries", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column)
    for count, latencies in rows:
        table.add_row(
            str(count), str(len(latencies)), f"{statistics.median(latencies) * 1000:.0f}",
            f"{percentile(latencies, 0.99) * 1000:.0f}", f"{max(latencies) * 1000:.0f}",
        )  # fmt: skip
    publish(
        "API subscribers (bench.api_subscribers)",
        table,
        [
            f"{args.alerts} alerts, one every {args.interval} s, to every subscriber; baseline: one subscriber",
            "latency = arrival at the socket − the producer's send time; every delivery arrived exactly once",
        ],
    )


if __name__ == "__main__":
    main()
