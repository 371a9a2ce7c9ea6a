"""Cross-format conformance through the whole pipeline.

One bill as CUR 2.0 (CSV and Parquet), CUR 1.0 and FOCUS, each replayed into its own topics,
aggregated by the Flink job and written to its own InfluxDB database, gives the same usage totals
per account, service and day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.influx_query import influxql
from connectors.influx_sink import InfluxSink
from connectors.replay import replay
from spendstream.config import Config, Topic
from spendstream.flink_client import job_failure, submit, wait_for_job
from tests.conformance.bill import SERVICES, WRITERS, charges, write_cur2_parquet

pytestmark = pytest.mark.integration
EXPORTS = {
    **{name: (write, f"{name}.csv") for name, write in WRITERS.items()},
    "cur2-parquet": (write_cur2_parquet, "cur2.parquet"),
}


def isolated(config: Config, name: str) -> Config:
    """The same stack, with topics, consumer groups and InfluxDB database of this export alone."""
    topics = {role: Topic(f"conformance-{name}.{role}", t.partitions) for role, t in config.kafka.topics.items()}
    return replace(
        config,
        kafka=replace(config.kafka, topics=topics, consumer_group=f"conformance-{name}"),
        influx=replace(config.influx, database=f"conformance_{name.replace('-', '_')}"),
    )


def usage_per_account_service_day(config: Config) -> dict[tuple[str, str, str], Decimal]:
    series = influxql(
        config.influx,
        "SELECT SUM(usd_micros) FROM cost WHERE charge_type = 'usage' AND "
        "time >= '2026-08-01' AND time < '2026-11-01' GROUP BY time(1d), account, service fill(none)",
    )
    names = {long: code for code, long in SERVICES.items()}
    totals = {}
    for item in series:
        service = names.get(item["tags"]["service"], item["tags"]["service"])
        for moment, micros in item["values"]:
            day = datetime.fromtimestamp(moment / 1000, UTC).strftime("%Y-%m-%d")
            totals[(item["tags"]["account"], service, day)] = Decimal(micros) / 10**6
    return totals


def test_every_format_gives_the_same_usage_totals_after_the_pipeline(stack: Config, tmp_path):
    bill = charges()
    expected: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for charge in bill:
        if charge.line_item_type == "Usage":
            expected[(charge.account, charge.service, charge.start.strftime("%Y-%m-%d"))] += charge.cost
    jobs = {}
    for name, (write, filename) in EXPORTS.items():  # all submitted at once: the cluster runs two at a time
        config = isolated(stack, name)
        write(bill, tmp_path / filename)
        summary = replay(tmp_path / filename, config, show_progress=False)
        assert (summary.rows_read, summary.rejected) == (len(bill), 0), name
        jobs[name] = (config, submit(config, "cost-aggregation", summary.backfill_args()))
    results = {}
    for name, (config, job_id) in jobs.items():
        assert wait_for_job(config, job_id) == "FINISHED", job_failure(config, job_id)
        InfluxSink(config).run(until_idle_s=3)
        results[name] = usage_per_account_service_day(config)
    for name, totals in results.items():
        assert set(totals) == set(expected), name
        for key, total in expected.items():
            assert totals[key].quantize(Decimal("0.01")) == total.quantize(Decimal("0.01")), (name, key)
            assert abs(totals[key] - total) < Decimal("0.0001"), (name, key)
    assert results["cur2"] == results["cur1"] == results["focus"] == results["cur2-parquet"]
