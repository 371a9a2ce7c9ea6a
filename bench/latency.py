"""Benchmark 4 — latency: event → live aggregate in InfluxDB, hour complete → final aggregates, → alert.

    python -m bench.latency [--rate 5000] [--days 9] [--events-per-hour 5000] [--brokers s3 memory]

A continuously running cost aggregation job and the InfluxDB sink consume a raw topic that this
script fills at ``--rate`` events/s with cost events of 16 series (4 accounts × 4 services, 3
resources each); event time advances one hour per ``--events-per-hour`` events. Windows are event-time
windows: an hour is *complete* when an event ``flink.out_of_orderness_s`` past its end has been
sent (the watermark then passes it). One series gets a 6× spike in one hour of the last day,
after the detector's 7-day warm-up. Measured: (a) an event sent → its series' running total in
``cost_live`` counts it (every 100th event, InfluxDB polled every 50 ms: the early-fired live
aggregates), and to the live aggregate on its Kafka topic (the job's share: the rest is the sink's),
(a') hour complete → all 16 final aggregates of the hour in ``cost``, (b) spike hour complete → its
anomaly alert read from the alert topic.

The baseline, in the same run: the same job on a stack whose Tansu keeps the topics in memory
(no SeaweedFS). Tansu's ``s3://`` engine writes an object for each produced batch (and rewrites
two more), and lists and reads objects for every fetch; on two cores SeaweedFS serving that
competes with the job for CPU, so the CPU it took is measured beside each run.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka import TopicPartition
from rich.progress import Progress
from rich.table import Table

from bench.report import keep_pace, publish
from bench.stack import BROKERS, CpuUse, cpu_use, embedded_stack
from connectors.alerts import read_alerts
from connectors.influx_query import DatabaseNotFoundError, influxql
from connectors.influx_sink import InfluxSink
from connectors.kafka_io import consumer, ensure_topics, producer
from connectors.replay import send_heartbeat
from pipelines.cost_event import ChargeType, CostEvent, event_id
from schemas import SchemaName, codec
from spendstream.config import Config
from spendstream.flink_client import cancel, rest, submit

HOUR_MS = 3_600_000
START_MS = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1000)
ACCOUNTS = ("111111111111", "222222222222", "333333333333", "444444444444")
SERVICES = ("AmazonEC2", "AmazonRDS", "AmazonS3", "AWSLambda")
SPIKE_SERIES = ("111111111111", "AmazonEC2")


@dataclass(frozen=True)
class Sample:
    """One sent event: its series' hour and how many events that series-hour had with it."""

    hour_ms: int
    account: str
    service: str
    count: int
    sent: float


@dataclass
class Timeline:
    """Wall-clock moments: when each hour became complete, was visible, was alerted."""

    complete: dict[int, float] = field(default_factory=dict)
    visible: dict[int, float] = field(default_factory=dict)
    sampled: deque[Sample] = field(default_factory=deque)  # events sent, waiting to be seen live
    live: list[float] = field(default_factory=list)  # seconds from send to seen live, per sampled event
    on_topic: deque[Sample] = field(default_factory=deque)  # the same events, waiting on the live topic
    topic: list[float] = field(default_factory=list)  # seconds from send to seen on the live topic
    alerted: float | None = None
    done: threading.Event = field(default_factory=threading.Event)


def event(n: int, hour_ms: int, ts_ms: int, spike: bool) -> tuple[bytes, bytes]:
    account, service, resource = ACCOUNTS[n % 4], SERVICES[(n // 4) % 4], n % 3
    cost = (1.0 + (n % 7) / 10) * (6 if spike and (account, service) == SPIKE_SERIES else 1)
    line_item = f"lat-{hour_ms}-{n}"
    record = CostEvent(
        event_id=event_id("bench", line_item, ts_ms, ts_ms + 1000),
        source_format="cur2",
        line_item_id=line_item,
        billing_period=datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m"),
        usage_start_ms=ts_ms,
        usage_end_ms=ts_ms + 1000,
        payer_account_id="999999999999",
        usage_account_id=account,
        service=service,
        region="us-east-1",
        resource_id=f"{service.lower()}-{account[-4:]}-{resource}",
        line_item_type="Usage",
        charge_type=ChargeType.USAGE,
        usage_type="bench",
        unblended_cost=f"{cost:.6f}",
        net_cost=f"{cost:.6f}",
        currency="USD",
        usage_amount="1",
    )
    return account.encode(), codec().encode(SchemaName.COST_EVENT, record.to_record())


def produce(config: Config, args, spike_hour: int, timeline: Timeline, progress: Progress) -> None:
    """Send the events at ``args.rate``/s; note when each hour became complete."""
    sender, topic = producer(config), config.kafka.topic("raw_cost")
    partitions = config.kafka.topics["raw_cost"].partitions  # every partition's watermark moves
    hours = args.days * 24
    step_ms = HOUR_MS // args.events_per_hour
    lateness_ms = config.flink.out_of_orderness_s * 1000
    task = progress.add_task(f"producing {hours} event hours at {args.rate:,}/s", total=hours)
    started, sent = time.perf_counter(), 0
    for hour in range(hours):
        hour_ms = START_MS + hour * HOUR_MS
        for n in range(args.events_per_hour):
            ts_ms = hour_ms + n * step_ms
            key, value = event(n, hour_ms, ts_ms, hour == spike_hour)
            sender.send(topic, key=key, value=value, partition=n % partitions, timestamp_ms=ts_ms)
            sent += 1
            if n % 100 == 99:  # the 100th of its hour so far; its series (n % 16) has had n // 16 + 1 events
                account, service = ACCOUNTS[n % 4], SERVICES[(n // 4) % 4]
                sample = Sample(hour_ms, account, service, n // 16 + 1, time.perf_counter())
                timeline.sampled.append(sample)
                timeline.on_topic.append(sample)
            closing = ts_ms - lateness_ms - HOUR_MS  # the hour this event's watermark completes
            if closing >= START_MS and (closing - START_MS) % HOUR_MS < step_ms:
                timeline.complete.setdefault(closing - closing % HOUR_MS, time.perf_counter())
            keep_pace(started, sent, args.rate)
        progress.advance(task)
    sender.flush()
    end_ms = START_MS + hours * HOUR_MS
    send_heartbeat(config, end_ms + lateness_ms + HOUR_MS)
    timeline.complete.setdefault(end_ms - HOUR_MS, time.perf_counter())


def watch_influx(config: Config, timeline: Timeline, series: int) -> None:
    """Note when every series of an hour is in InfluxDB."""
    query = 'SELECT COUNT("usd_micros") FROM "cost" WHERE time >= {}ms GROUP BY time(1h) fill(none)'
    while not timeline.done.is_set():
        since = max(timeline.visible, default=START_MS)
        try:
            found = influxql(config.influx, query.format(since))
        except DatabaseNotFoundError:
            found = []
        now = time.perf_counter()
        for moment, count in (v for s in found for v in s["values"]):
            if count >= series:
                timeline.visible.setdefault(moment, now)
        time.sleep(0.05)


def watch_live(config: Config, timeline: Timeline) -> None:
    """Note when each sampled event is counted in its series' running total in ``cost_live``."""
    query = 'SELECT "line_items" FROM "cost_live" WHERE time >= {}ms GROUP BY account, service'
    while not timeline.done.is_set():
        if not timeline.sampled:
            time.sleep(0.05)
            continue
        try:
            found = influxql(config.influx, query.format(timeline.sampled[0].hour_ms))
        except DatabaseNotFoundError:
            found = []
        now = time.perf_counter()
        counts = {
            (moment, s["tags"]["account"], s["tags"]["service"]): count for s in found for moment, count in s["values"]
        }
        counted(timeline.sampled, counts, now, timeline.live)
        time.sleep(0.05)


def watch_live_topic(config: Config, timeline: Timeline) -> None:
    """Note when each sampled event is counted on the live aggregate topic: the job's share of the latency.

    A consumer like the sink's (the default 500 ms fetch wait), so the rest, to ``cost_live``, is the sink's.
    """
    source = consumer(config, None, from_beginning=True)
    topic = config.kafka.topic("live_aggregate")
    while not (partitions := source.partitions_for_topic(topic)):
        time.sleep(0.2)
    source.assign([TopicPartition(topic, partition) for partition in partitions])
    counts: dict[tuple[int, str, str], int] = {}
    while not timeline.done.is_set():
        batches = source.poll(timeout_ms=500)
        for record in (record for batch in batches.values() for record in batch if record.value is not None):
            live = codec().decode(record.value, SchemaName.COST_AGGREGATE)
            key = (live["window_start_ms"], live["account_id"], live["service"])
            counts[key] = max(counts.get(key, 0), live["line_items"])
        counted(timeline.on_topic, counts, time.perf_counter(), timeline.topic)
    source.close()


def counted(waiting: deque[Sample], counts: dict[tuple[int, str, str], int], now: float, seen: list[float]) -> None:
    """Move the sampled events their series-hour's count now includes (in send order) to ``seen``."""
    while waiting:
        sample = waiting[0]
        if counts.get((sample.hour_ms, sample.account, sample.service), 0) < sample.count:
            return
        seen.append(now - waiting.popleft().sent)


def watch_alerts(config: Config, timeline: Timeline) -> None:
    for alert in read_alerts(config, from_beginning=True, group=None, until_idle_s=None):
        if alert["kind"] == "anomaly" and (alert["account_id"], alert["service"]) == SPIKE_SERIES:
            timeline.alerted = time.perf_counter()
            return


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def steady(values: list[float]) -> list[float]:
    """Values in the order measured, without the first tenth (start-up), as bench 9 leaves it out."""
    return values[len(values) // 10 :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--days", type=int, default=9)
    parser.add_argument("--events-per-hour", type=int, default=5000)
    parser.add_argument("--brokers", nargs="+", choices=BROKERS, default=list(BROKERS), help="whose storage")
    args = parser.parse_args()
    spike_hour = (args.days - 1) * 24 + 12
    runs = {BROKERS[storage]: measure(args, storage, spike_hour) for storage in args.brokers}
    report(args, runs, spike_hour)


def measure(args, storage: str, spike_hour: int) -> tuple[Timeline, CpuUse]:
    """One run of the job, the sink and the watchers on a fresh stack whose broker keeps topics in ``storage``."""
    timeline = Timeline()
    with embedded_stack(storage) as config, Progress() as progress:
        ensure_topics(config)
        job_id = submit(config, "cost-aggregation", ["--from-earliest"])
        while rest(config, f"/jobs/{job_id}")["state"] != "RUNNING":
            time.sleep(0.5)
        sink = InfluxSink(config)
        threads = [
            threading.Thread(target=sink.run, daemon=True),
            threading.Thread(target=watch_influx, args=(config, timeline, len(ACCOUNTS) * len(SERVICES)), daemon=True),
            threading.Thread(target=watch_alerts, args=(config, timeline), daemon=True),
            threading.Thread(target=watch_live, args=(config, timeline), daemon=True),
            threading.Thread(target=watch_live_topic, args=(config, timeline), daemon=True),
        ]
        for thread in threads:
            thread.start()
        time.sleep(10)  # the job's source and the consumers have joined
        with cpu_use(config) as cpu:
            produce(config, args, spike_hour, timeline, progress)
        deadline = time.perf_counter() + 120
        last_hour = START_MS + (args.days * 24 - 1) * HOUR_MS
        while (last_hour not in timeline.visible or timeline.alerted is None) and time.perf_counter() < deadline:
            time.sleep(0.5)
        timeline.done.set()
        cancel(config, job_id)
    return timeline, cpu


def report(args, runs: dict[str, tuple[Timeline, CpuUse]], spike_hour: int) -> None:
    table = Table(
        "broker",
        "rate events/s",
        "live: events seen",
        "event → live p50 s",
        "event → live p99 s",
        "event → live topic p50 / p99 s",
        "hours",
        "hour → final p50 s",
        "hour → final p99 s",
        "alert after hour complete s",
        "SeaweedFS CPU, cores",
        "machine busy",
        "target",
    )
    for broker, (timeline, cpu) in runs.items():
        table.add_row(broker, f"{args.rate:,}", *row(timeline, spike_hour), *cpu_cells(cpu), "p99 ≤ 1 s; alert ≤ 1 s")
    publish(
        f"Latency at {args.rate:,} events/s ({args.events_per_hour:,} events per event-time hour)",
        table,
        [
            "event → live: every 100th event, from its send to its series' running total in cost_live counting it "
            "(live aggregates re-emitted per 200 ms mini-batch); InfluxDB polled every 50 ms",
            "event → live topic: the same events, to the job's live aggregate on its Kafka topic counting them (a "
            "consumer like the sink's): the raw hop, the job and the output hop; the rest is the sink's",
            "hour complete = the first event past the hour's end + the watermark delay was sent; final = all 16 "
            "series of the hour in cost (windows fire on the watermark)",
            "the first tenth of the events and hours (start-up) is left out, as in bench 9",
            "SeaweedFS CPU and machine busy: while the events were sent; 2 cores are 2.0 and 100%",
            "job: continuous cost aggregation on the embedded session cluster; sink: spendstream's InfluxDB sink; "
            "the two brokers one after the other, each on a fresh stack (memory://: Tansu without SeaweedFS)",
        ],
    )


def row(timeline: Timeline, spike_hour: int) -> list[str]:
    """The latency cells of one run, start-up left out."""
    hours = steady(sorted(timeline.complete))
    aggregate = [timeline.visible[h] - timeline.complete[h] for h in hours if h in timeline.visible]
    spike_ms = START_MS + spike_hour * HOUR_MS
    complete = timeline.complete.get(spike_ms)
    alert = timeline.alerted - complete if timeline.alerted and complete else None
    live, topic = steady(timeline.live), steady(timeline.topic)
    return [
        f"{len(live):,}",
        f"{statistics.median(live):.2f}" if live else "-",
        f"{percentile(live, 0.99):.2f}" if live else "-",
        f"{statistics.median(topic):.2f} / {percentile(topic, 0.99):.2f}" if topic else "-",
        f"{len(aggregate)}/{len(hours)}",
        f"{statistics.median(aggregate):.2f}" if aggregate else "-",
        f"{percentile(aggregate, 0.99):.2f}" if aggregate else "-",
        f"{alert:.2f}" if alert is not None else "no alert",
    ]


def cpu_cells(cpu: CpuUse) -> list[str]:
    return [f"{cpu.seaweedfs_cores:.2f}" if cpu.seaweedfs_cores else "-", f"{cpu.machine_busy:.0%}"]


if __name__ == "__main__":
    main()
