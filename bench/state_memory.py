"""Benchmark 5 — state and memory: bytes per series of the anomaly models, for 10k to 1M series.

    python -m bench.state_memory [--series 10000 100000 1000000] [--days 30] [--warm 2000]

The Flink job keeps one SeriesMonitor (river models, open episode) per account × service in keyed
state as its Avro state record (schemas/series_monitor_state.avsc), base64 in a string state; a
checkpoint holds exactly those bytes plus the key. ``--warm`` distinct series learn ``--days`` of hourly history (their
own random level and pattern) to measure the record's size, beside the same monitors pickled
(the baseline of the format); then, for each count, the state of that many series is
built from those records under distinct keys, as a state backend holds it, and this process's
RSS growth is measured. The baseline of memory is the key alone (the least any keyed state can
hold).
"""

from __future__ import annotations

import argparse
import gc
import math
import pickle
import random
import resource
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.progress import Progress
from rich.table import Table

from bench.report import publish
from jobs.analytics import stored_state
from pipelines.spend_monitor import HourOfSpend, SeriesMonitor
from schemas import SchemaName

START = datetime(2026, 5, 1, tzinfo=UTC)
TASKMANAGER_BUDGET = 8 * 2**30


def warmed_state(series: int, days: int, progress: Progress) -> tuple[list[bytes], list[int]]:
    """State records of ``series`` distinct series after ``days`` of hourly history, and pickle sizes."""
    task = progress.add_task(f"{series:,} series learn {days} days", total=series)
    blobs, pickled = [], []
    for n in range(series):
        rng = random.Random(n)
        level, account = rng.uniform(0.05, 500), f"{100000000000 + n:012d}"
        monitor = SeriesMonitor(account, "AmazonEC2")
        for hour in range(days * 24):
            moment = START + timedelta(hours=hour)
            cost = level * (1 + 0.3 * math.sin(moment.hour / 24 * 2 * math.pi)) * math.exp(rng.gauss(0, 0.05))
            spend = {"us-east-1": Decimal(f"{cost:.6f}")}
            monitor.observe(HourOfSpend(account, "AmazonEC2", int(moment.timestamp() * 1000), spend))
        blobs.append(stored_state(SchemaName.SERIES_MONITOR_STATE, monitor.state()).encode())
        pickled.append(len(pickle.dumps(monitor, protocol=pickle.HIGHEST_PROTOCOL)))
        progress.advance(task)
    return blobs, pickled


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


def held_state(count: int, blobs: list[bytes], with_models: bool) -> tuple[int, int]:
    """(state bytes, RSS growth) of ``count`` keyed entries, with the models or keys only."""
    gc.collect()
    before = rss_bytes()
    state = {
        f"{n:012d}|AmazonEC2": bytearray(blobs[n % len(blobs)]) if with_models else b"" for n in range(count)
    }  # a copy per series: every series holds its own state, as in a state backend
    size = sum(len(key) + len(value) for key, value in state.items())
    grown = rss_bytes() - before
    del state
    gc.collect()
    return size, grown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--warm", type=int, default=2000)
    args = parser.parse_args()
    with Progress() as progress:
        blobs, pickled = warmed_state(args.warm, args.days, progress)
    per_series = statistics.mean(len(b) for b in blobs)
    table = Table(
        "series", "checkpoint bytes", "bytes/series", "RSS growth", "RSS/series", "keys-only RSS/series", "fits 8 GB"
    )
    for count in args.series:
        size, grown = held_state(count, blobs, with_models=True)
        _, keys_only = held_state(count, blobs, with_models=False)
        table.add_row(
            f"{count:,}",
            f"{size / 2**20:,.0f} MiB",
            f"{size / count:,.0f}",
            f"{grown / 2**20:,.0f} MiB",
            f"{grown / count:,.0f}",
            f"{keys_only / count:,.0f}",
            "yes" if grown < TASKMANAGER_BUDGET else "no",
        )
    publish(
        f"State and memory per series ({args.days} days of history)",
        table,
        [
            f"SeriesMonitor state record as stored (Avro, base64): mean {per_series:,.0f} bytes "
            f"over {args.warm:,} warmed series "
            f"(min {min(map(len, blobs)):,}, max {max(map(len, blobs)):,}); "
            f"the same monitors as a plain pickle (baseline, this run): mean {statistics.mean(pickled):,.0f} bytes; "
            "the state before, a pickle that compacted the river objects: 3,187 bytes (2026-11-26 run)",
            "checkpoint bytes = keys + state records, what the keyed state of the analytics operator holds",
            "RSS growth: this process holding that state in memory (a heap state backend's lower bound; "
            "RocksDB keeps it off-heap and on disk)",
        ],
    )


if __name__ == "__main__":
    main()
