"""Benchmark 2 — produce: events/s from replay into the broker, against a bare producer.

    python -m bench.produce [--rows 300000] [--runs 3]

"replay" is the whole command on a CUR 2.0 CSV.gz: read, normalize, encode, order by event time
and produce to the raw topic (acks=all). The baseline is a kafka-python producer with the same
settings sending the same pre-encoded messages (same keys, same sizes) to a topic of its own:
the broker's and client's limit without any of replay's work. Median of ``--runs``; each run
times both back to back on the embedded Tansu broker.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.progress import Progress
from rich.table import Table

from bench.replay_parse import big_export
from bench.report import publish
from bench.stack import embedded_stack
from connectors.deliveries import DeliveryLedger, DeliveryTracker
from connectors.kafka_io import producer
from connectors.replay import FormatChecker, ReplaySummary, encoded_events, replay
from spendstream.config import Config


def bare_produce(config: Config, messages: list[tuple[bytes, bytes]], topic: str) -> float:
    """Messages per second of a producer doing nothing else."""
    sender = producer(config)
    started = time.perf_counter()
    for key, value in messages:
        sender.send(topic, key=key, value=value)
    sender.flush()
    elapsed = time.perf_counter() - started
    sender.close()
    return len(messages) / elapsed


def replay_rate(config: Config, export: Path) -> tuple[float, int]:
    started = time.perf_counter()
    summary = replay(export, config, show_progress=False, force=True)
    return summary.produced / (time.perf_counter() - started), summary.produced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"replay": [], "bare": []}
    with tempfile.TemporaryDirectory() as work, embedded_stack() as config, Progress() as progress:
        export = Path(work) / "export"
        csv_path, _ = big_export(args.rows, export)
        tracker = DeliveryTracker(DeliveryLedger(Path(work) / "ledger"), "bench", force=True)
        events = encoded_events([csv_path], ReplaySummary(), lambda row, why: None, [0], FormatChecker(), tracker)
        messages = [(record.key, record.value) for record in events]
        task = progress.add_task(f"{args.runs} runs of {len(messages):,} events", total=args.runs)
        for run in range(args.runs):
            rate, produced = replay_rate(config, export)
            assert produced == len(messages), (produced, len(messages))
            rates["replay"].append(rate)
            rates["bare"].append(bare_produce(config, messages, f"bench.bare.{run}"))
            progress.advance(task)
    replayed, bare = statistics.median(rates["replay"]), statistics.median(rates["bare"])
    table = Table("events", "replay events/s", "bare producer msg/s", "ratio", "target")
    table.add_row(f"{len(messages):,}", f"{replayed:,.0f}", f"{bare:,.0f}", f"{replayed / bare:.2f}", "≥ 0.7")
    publish(
        f"Produce, {len(messages):,} CUR 2.0 events into Tansu",
        table,
        [
            f"median of {args.runs} runs; replay and the bare producer back to back in each run",
            "same producer settings (acks=all, linger 20 ms, 512 KB batches); Tansu on SeaweedFS (s3://)",
            f"runs: replay {', '.join(f'{r:,.0f}' for r in rates['replay'])}; "
            f"bare {', '.join(f'{r:,.0f}' for r in rates['bare'])}",
        ],
    )


if __name__ == "__main__":
    main()
