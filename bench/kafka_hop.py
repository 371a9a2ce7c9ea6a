"""Benchmark 9 — one Kafka hop: a record sent → a consumer sees it, on the embedded broker.

    python -m bench.kafka_hop [--rate 2500] [--seconds 40] [--fetch-max-wait-ms 500]

An event reaches InfluxDB through two hops (raw topic → the job, output topic → the sink); this
measures what one hop costs on its own, with the producer and consumer settings the pipeline uses
(linger 20 ms, acks=all; a plain assigned consumer), so bench 4's latency can be read against it.
Each record carries its send time; the first tenth of the run (connection and warm-up) is left out.
The baseline, in the same run: the same Tansu binary on its ``memory://`` engine (nothing durable,
no SeaweedFS), which tells the broker's own cost from its storage round trips to SeaweedFS; the
CPU SeaweedFS used while the records were sent is measured beside it. Tansu holds a fetch
for much of the consumer's ``fetch.max.wait.ms`` even when records are there, so the consumer's
wait can be set (default: kafka-python's 500 ms, which the pipeline's consumers use).
"""

from __future__ import annotations

import argparse
import statistics
import struct
import threading
import time

from kafka import TopicPartition
from rich.console import Console
from rich.table import Table

from bench.report import keep_pace, publish
from bench.stack import BROKERS, CpuUse, cpu_use, embedded_stack
from connectors.kafka_io import consumer, ensure_topics, producer
from spendstream.config import Config

PADDING = b"x" * 200  # about the size of a cost event


def read_delays(config: Config, topic: str, wait_ms: int, stop: threading.Event, delays: list[float]) -> None:
    reader = consumer(config, None, fetch_max_wait_ms=wait_ms)
    partition = TopicPartition(topic, 0)
    reader.assign([partition])
    reader.seek(partition, 0)
    while not stop.is_set():
        for records in reader.poll(timeout_ms=500).values():
            now = time.time()
            delays.extend(now - struct.unpack("d", record.value[:8])[0] for record in records)
    reader.close()


def send_at(config: Config, topic: str, rate: int, seconds: float) -> int:
    sender, started, sent = producer(config), time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        sender.send(topic, struct.pack("d", time.time()) + PADDING, partition=0)
        sent += 1
        keep_pace(started, sent, rate)
    sender.flush()
    sender.close()
    return sent


def hop(config: Config, rate: int, seconds: float, wait_ms: int) -> tuple[int, list[float], CpuUse]:
    """(records sent, delays in s after warm-up, sorted, the CPU used) of one run on the broker of ``config``."""
    ensure_topics(config)
    topic, delays, stop = config.kafka.topic("raw_cost"), [], threading.Event()
    reader = threading.Thread(target=read_delays, args=(config, topic, wait_ms, stop, delays))
    reader.start()
    with cpu_use(config) as cpu:
        sent = send_at(config, topic, rate, seconds)
    time.sleep(3)
    stop.set()
    reader.join()
    return sent, sorted(delays[len(delays) // 10 :]), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=2500)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--fetch-max-wait-ms", type=int, default=500, help="the consumer's fetch.max.wait.ms")
    args = parser.parse_args()
    table = Table("broker", "rate records/s", "sent", "p50 ms", "p99 ms", "max ms", "SeaweedFS CPU, cores")
    runs = {}
    for storage, broker in BROKERS.items():
        with embedded_stack(storage) as config, Console().status(f"one hop at {args.rate:,} records/s ..."):
            runs[broker] = hop(config, args.rate, args.seconds, args.fetch_max_wait_ms)
    for broker, (sent, delays, cpu) in runs.items():
        table.add_row(
            broker,
            f"{args.rate:,}",
            f"{sent:,}",
            f"{statistics.median(delays) * 1000:.0f}",
            f"{delays[int(len(delays) * 0.99)] * 1000:.0f}",
            f"{delays[-1] * 1000:.0f}",
            f"{cpu.seaweedfs_cores:.2f}" if cpu.seaweedfs_cores else "-",
        )
    publish(
        f"One Kafka hop at {args.rate:,} records/s, fetch wait {args.fetch_max_wait_ms} ms",
        table,
        [
            "the pipeline's producer (acks=all, linger 20 ms) and a consumer assigned to the raw topic's partition 0, "
            "both in this process; the two brokers one after the other, each on a fresh stack",
            "delay = the consumer's poll returning the record − its send time; the first tenth of the run is left out",
        ],
    )


if __name__ == "__main__":
    main()
