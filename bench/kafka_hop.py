"""Benchmark 9 — one Kafka hop: a record sent → a consumer sees it, on the embedded broker.

    python -m bench.kafka_hop [--rate 2500] [--seconds 40]

An event reaches InfluxDB through two hops (raw topic → the job, output topic → the sink); this
measures what one hop costs on its own, with the producer and consumer settings the pipeline uses
(linger 20 ms, acks=all; a plain assigned consumer), so bench 4's latency can be read against it.
Each record carries its send time; the first tenth of the run (connection and warm-up) is left out.
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

from bench.report import publish
from bench.stack import embedded_stack
from connectors.kafka_io import consumer, ensure_topics, producer
from spendstream.config import Config

PADDING = b"x" * 200  # about the size of a cost event


def read_delays(config: Config, topic: str, stop: threading.Event, delays: list[float]) -> None:
    reader = consumer(config, None)
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
        ahead = sent / rate - (time.perf_counter() - started)
        if ahead > 0.005:
            time.sleep(ahead)
    sender.flush()
    sender.close()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=2500)
    parser.add_argument("--seconds", type=float, default=40)
    args = parser.parse_args()
    delays: list[float] = []
    with embedded_stack() as config, Console().status(f"one hop at {args.rate:,} records/s ..."):
        ensure_topics(config)
        topic = config.kafka.topic("raw_cost")
        stop = threading.Event()
        reader = threading.Thread(target=read_delays, args=(config, topic, stop, delays))
        reader.start()
        sent = send_at(config, topic, args.rate, args.seconds)
        time.sleep(3)
        stop.set()
        reader.join()
    measured = sorted(delays[len(delays) // 10 :])
    table = Table("rate records/s", "sent", "seen", "p50 ms", "p99 ms", "max ms")
    table.add_row(
        f"{args.rate:,}",
        f"{sent:,}",
        f"{len(delays):,}",
        f"{statistics.median(measured) * 1000:.0f}",
        f"{measured[int(len(measured) * 0.99)] * 1000:.0f}",
        f"{measured[-1] * 1000:.0f}",
    )
    publish(
        f"One Kafka hop at {args.rate:,} records/s",
        table,
        [
            "Tansu on SeaweedFS (s3://), the embedded broker; the pipeline's producer (acks=all, linger 20 ms) and "
            "a consumer assigned to the raw topic's partition 0, both in this process",
            "delay = the consumer's poll returning the record − its send time; the first tenth of the run is left out",
        ],
    )


if __name__ == "__main__":
    main()
