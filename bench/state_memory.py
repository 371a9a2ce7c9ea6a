"""Benchmark 5 — state and memory: bytes per series of the anomaly models, for 10k to 1M series.

    python -m bench.state_memory [--series 10000 100000 1000000] [--days 30] [--warm 2000]
                                 [--forecast-days 180] [--accounts 20]

The Flink job keeps one SeriesMonitor (river models, open episode) per account × service in keyed
state as its Avro state record (schemas/series_monitor_state.avsc), base64 in a string state; a
checkpoint holds exactly those bytes plus the key. ``--warm`` distinct series learn ``--days`` of hourly history (their
own random level and pattern) to measure the record's size, beside the same monitors pickled
(the baseline of the format); then, for each count, the state of that many series is
built from those records under distinct keys, as a state backend holds it, and this process's
RSS growth is measured. The baseline of memory is the key alone (the least any keyed state can
hold).

Forecasts keep one AccountMonitor per account (schemas/account_monitor_state.avsc): ``--accounts``
accounts of ten services learn ``--forecast-days`` days (enough to fill every horizon bucket's
1,000 errors: the largest a series' state gets), and their records are measured as the job keeps
them and, as the baseline, as the version before packed interval errors wrote them.
"""

from __future__ import annotations

import argparse
import base64
import gc
import io
import json
import math
import pickle
import random
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import fastavro
from rich.progress import Progress
from rich.table import Table

from bench.report import publish
from jobs.analytics import loaded_state, stored_state
from pipelines.anomaly import DAY_SLOTS, WEEK_SLOTS
from pipelines.packed import unpack
from pipelines.spend_monitor import AccountMonitor, DayOfSpend, HourOfSpend, SeriesMonitor
from schemas import SchemaName
from schemas.codec import SCHEMA_DIR

START = datetime(2026, 5, 1, tzinfo=UTC)
TASKMANAGER_BUDGET = 8 * 2**30
DAY_SHARES = (Decimal("0.2"), Decimal("0.3"), Decimal("0.3"), Decimal("0.2"))  # a day's usage by six-hour quarter


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


def warmed_accounts(accounts: int, days: int, progress: Progress) -> list[AccountMonitor]:
    """Account monitors of ten services each (own level, weekly pattern and noise) after ``days`` days."""
    task = progress.add_task(f"{accounts} accounts of 10 services learn {days} days", total=accounts)
    monitors = []
    for n in range(accounts):
        rng = random.Random(10_000 + n)
        account = f"{200000000000 + n:012d}"
        shapes = [(rng.uniform(1, 5000), rng.uniform(0.5, 1.0), rng.uniform(0.03, 0.2)) for _ in range(10)]
        services = {f"service-{i}": shape for i, shape in enumerate(shapes)}  # level, weekend factor, noise
        monitor = AccountMonitor(account)
        for offset in range(days):
            day = START.date() + timedelta(days=offset)
            usage = {
                name: Decimal(f"{level * (weekend if day.weekday() >= 5 else 1) * math.exp(rng.gauss(0, noise)):.6f}")
                for name, (level, weekend, noise) in services.items()
            }
            quarters = {name: tuple(cost * share for share in DAY_SHARES) for name, cost in usage.items()}
            monitor.observe(DayOfSpend(account, day, usage, sum(usage.values(), Decimal(0)), quarters))
        monitors.append(monitor)
        progress.advance(task)
    return monitors


def version_3_record(state: dict) -> dict:
    """The record as version 3 wrote it (interval errors as doubles inside each forecaster): the baseline."""
    errors = {e["name"]: e["buckets"] for e in state["interval_errors"]}
    series = [
        {**s, "forecaster": {**s["forecaster"], "errors": [list(unpack(b, "f")) for b in errors[s["name"]]]}}
        for s in state["series"]
    ]
    return {**{k: v for k, v in state.items() if k != "interval_errors"}, "series": series}


def version_2_record(state: dict) -> dict:
    """A series monitor's record as version 2 wrote it (slot means as nullable doubles, in the detector): baseline."""
    means = [None if math.isnan(mean) else mean for mean in unpack(state["packed_slots"], "d")]
    week_end, day_end = WEEK_SLOTS, WEEK_SLOTS + DAY_SLOTS
    slots = {"week": means[:week_end], "day": means[week_end:day_end], "month_start": means[day_end:]}
    old = {k: v for k, v in state.items() if k != "packed_slots"}
    return {**old, "detector": {**state["detector"], **slots}}


def series_round_trip_notes(blobs: list[bytes]) -> str:
    """Read + write time of the series monitor's record, this version beside version 2's."""
    name = SchemaName.SERIES_MONITOR_STATE
    states = [loaded_state(blob.decode(), name) for blob in blobs]
    (_, before), (_, now) = (
        avro_round_trip(parsed_schema(name, version), records)
        for version, records in ((2, [version_2_record(s) for s in states]), (None, states))
    )
    return (
        f"read + write of the record (Avro decode and encode, base64) per judged series-hour, what the job's "
        f"anomaly operator does: {now * 1000:,.0f} µs; as version 2 wrote it, the slot means as nullable doubles "
        f"(baseline, this run): {before * 1000:,.0f} µs"
    )


def parsed_schema(name: SchemaName, version: int | None) -> dict:
    """The current schema of ``name``, or its ``version`` under schemas/history."""
    path = SCHEMA_DIR / (f"{name.value}.avsc" if version is None else f"history/{name.value}@{version}.avsc")
    return fastavro.parse_schema(json.loads(path.read_text()), named_schemas={})


def avro_round_trip(schema: dict, records: list[dict], repeat: int = 5) -> tuple[int, float]:
    """Bytes of the records in ``schema``, and ms per record to decode and encode one (plus base64, as stored)."""
    blobs = []
    for record in records:
        body = io.BytesIO()
        fastavro.schemaless_writer(body, schema, record)
        blobs.append(body.getvalue())
    started = time.perf_counter()
    for _ in range(repeat):
        for blob in blobs:
            record = fastavro.schemaless_reader(io.BytesIO(base64.b64decode(base64.b64encode(blob))), schema, None)
            body = io.BytesIO()
            fastavro.schemaless_writer(body, schema, record)
            base64.b64encode(body.getvalue())
    return sum(map(len, blobs)), (time.perf_counter() - started) / repeat / len(blobs) * 1000


def forecast_table(monitors: list[AccountMonitor]) -> tuple[Table, list[str]]:
    name = SchemaName.ACCOUNT_MONITOR_STATE
    current, earlier = parsed_schema(name, None), parsed_schema(name, 3)
    states = [m.state() for m in monitors]
    series = sum(len(m.forecasters) for m in monitors)
    table = Table("record", "bytes/series", "bytes/account", "Avro read + write ms per account-day", "1M series GiB")
    for label, schema, records in (
        ("version 3: errors as doubles (baseline)", earlier, [version_3_record(s) for s in states]),
        ("version 6: errors packed as float32, day quarters, adoption day", current, states),
    ):
        size, ms = avro_round_trip(schema, records)
        per_series, per_account = size / series, size / len(records)
        million = per_series * 1e6 / 2**30
        table.add_row(label, f"{per_series:,.0f}", f"{per_account:,.0f}", f"{ms:.1f}", f"{million:,.1f}")
    full = min(len(e.values) for m in monitors for f in m.forecasters.values() for e in f.errors)
    started = time.perf_counter()
    for state in states:
        AccountMonitor.from_state(state).state()
    python_ms = (time.perf_counter() - started) / len(states) * 1000
    notes = [
        f"{len(monitors)} accounts of 10 services and their total ({series} series), every horizon bucket "
        f"holding {full:,} or more errors (the window is 1,000): the largest a forecast series' state gets",
        "Avro read + write: decode and encode of the record with its own version's schema (fastavro) and its "
        "base64, what the job's daily forecast operator does per account-day besides the Python below; bytes "
        "before base64",
        f"AccountMonitor.from_state + .state() of the same records (version 6): {python_ms:.1f} ms per account-day",
    ]
    return table, notes


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
    parser.add_argument("--forecast-days", type=int, default=180)
    parser.add_argument("--accounts", type=int, default=20)
    args = parser.parse_args()
    with Progress() as progress:
        blobs, pickled = warmed_state(args.warm, args.days, progress)
        monitors = warmed_accounts(args.accounts, args.forecast_days, progress)
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
            series_round_trip_notes(blobs[:500]),
        ],
    )
    publish(f"Forecast state per series ({args.forecast_days} days of history)", *forecast_table(monitors))


if __name__ == "__main__":
    main()
