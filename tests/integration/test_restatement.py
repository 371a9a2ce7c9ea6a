"""Restatements: a newer delivery of a billing period replaces the older one, never adds to it.

One bill replayed and aggregated by the Flink job; the same export replayed again (recognised,
nothing published; forced, the totals still do not double); then a restated delivery (costs
corrected, rows and a whole key-hour removed, rows added): InfluxDB holds the restated totals per
account, service and day, exactly, and line item counts of the restated delivery. The same with
the job running continuously: `spendstream replay` of the restatement starts its correction run,
the running job keeps running, never sees the restated rows and dead-letters nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.influx_query import DatabaseNotFoundError, influxql
from connectors.influx_sink import InfluxSink
from connectors.replay import ReplaySummary, replay
from spendstream.config import Config, to_env
from spendstream.flink_client import cancel, job_failure, rest, submit, wait_for_job
from spendstream.restatements import apply_restatements
from tests.conformance.bill import SERVICES, Charge, charges, restate, write_cur2
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import ROOT, read_topic

pytestmark = pytest.mark.integration
CENT_FRACTION = Decimal("0.0001")  # InfluxDB sums micro-dollars; totals must agree far below a cent


def written(bill: list[Charge], folder: Path) -> Path:
    """``bill`` as one CUR 2.0 delivery of billing period 2026-09 in ``folder``."""
    write_cur2(bill, folder / "data" / "BILLING_PERIOD=2026-09" / "export-00001.csv")
    return folder


def published(bill: list[Charge], folder: Path, config: Config, force: bool = False) -> ReplaySummary:
    """Write ``bill`` as one delivery and replay it (a heartbeat closes its last hour)."""
    return replay(written(bill, folder), config, show_progress=False, force=force, heartbeat=True)


def deliver(bill: list[Charge], folder: Path, config: Config, force: bool = False) -> ReplaySummary:
    """Replay ``bill``, backfill exactly it (or correct the period it restates), sink the aggregates."""
    summary = published(bill, folder, config, force)
    if apply_restatements(config, summary) is None:
        job_id = submit(config, "cost-aggregation", summary.backfill_args())
        assert wait_for_job(config, job_id) == "FINISHED", job_failure(config, job_id)
    InfluxSink(config).run(until_idle_s=3)
    return summary


def expected(bill: list[Charge]) -> tuple[dict, Counter]:
    cost: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    items: Counter = Counter()
    for charge in bill:
        key = (charge.account, charge.service, charge.start.strftime("%Y-%m-%d"))
        cost[key] += charge.cost
        items[key] += 1
    return cost, items


def in_influx(config: Config) -> tuple[dict, Counter]:
    series = influxql(
        config.influx,
        "SELECT SUM(usd_micros), SUM(line_items) FROM cost WHERE time >= '2026-08-01' AND time < '2026-11-01' "
        "GROUP BY time(1d), account, service fill(none)",
    )
    names = {long: code for code, long in SERVICES.items()}
    cost, items = {}, Counter()
    for item in series:
        service = names.get(item["tags"]["service"], item["tags"]["service"])
        for moment, micros, line_items in item["values"]:
            key = (item["tags"]["account"], service, datetime.fromtimestamp(moment / 1000, UTC).strftime("%Y-%m-%d"))
            cost[key], items[key] = Decimal(micros) / 10**6, line_items
    return cost, items


def assert_books_match(config: Config, bill: list[Charge]) -> None:
    want_cost, want_items = expected(bill)
    cost, items = in_influx(config)
    for key in set(cost) | set(want_cost):
        assert abs(cost.get(key, Decimal(0)) - want_cost.get(key, Decimal(0))) < CENT_FRACTION, key
    assert +items == +want_items


def test_replayed_and_restated_deliveries_replace_never_add(stack: Config, tmp_path):
    config = isolated(stack, "restatement")
    bill = charges(days=2)
    first = deliver(bill, tmp_path / "d1", config)
    assert list(first.deliveries.published) == ["2026-09"] and first.produced == len(bill)
    assert_books_match(config, bill)

    again = replay(tmp_path / "d1", config, show_progress=False)
    assert again.produced == 0 and again.deliveries.unchanged == first.deliveries.published

    forced = deliver(bill, tmp_path / "d1", config, force=True)
    assert forced.produced == len(bill)
    assert_books_match(config, bill)  # published twice, counted once

    restated = restate(bill)
    second = deliver(restated, tmp_path / "d2", config)
    assert second.deliveries.removed_key_hours >= 1
    assert second.produced == len(restated) + second.deliveries.removed_key_hours
    assert_books_match(config, restated)


def settled(config: Config, bill: list[Charge], timeout_s: float = 120) -> None:
    """Sink until InfluxDB holds ``bill``'s books (a running job writes an hour once it closes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        InfluxSink(config).run(until_idle_s=3)
        try:
            return assert_books_match(config, bill)
        except (AssertionError, DatabaseNotFoundError):  # no hour closed yet: nothing written so far
            if time.monotonic() > deadline:
                raise


def test_a_running_job_takes_a_restatement_without_stopping(stack: Config, tmp_path):
    config = isolated(stack, "restatement-live")
    bill = charges(days=2)
    first = published(bill, tmp_path / "d1", config)
    running = submit(config, "cost-aggregation", first.backfill_args()[:2])  # from the first record, on and on
    try:
        settled(config, bill)
        raw_records = len(read_topic(config, "raw_cost"))
        restated = restate(bill)
        env = {**os.environ, **to_env(config), "COLUMNS": "400"}
        cli = [str(ROOT / ".venv" / "bin" / "spendstream"), "replay", str(written(restated, tmp_path / "d2"))]
        answer = subprocess.run([*cli, "--no-progress"], env=env, capture_output=True, text=True, timeout=900)
        assert answer.returncode == 0, answer.stdout + answer.stderr
        correction = re.search(
            r"restated billing periods 2026-09: hourly aggregates recomputed by job (\w+)", answer.stdout
        )
        assert correction and correction[1] != running, answer.stdout
        assert len(read_topic(config, "raw_cost")) == raw_records, "restated rows reached the running job's topic"
        InfluxSink(config).run(until_idle_s=3)
        assert_books_match(config, restated)
        assert rest(config, f"/jobs/{running}")["state"] == "RUNNING"
        assert not read_topic(config, "dead_letter"), "the running job dead-lettered the restatement"
    finally:
        cancel(config, running)
