"""End to end on real servers: replay → Tansu → Flink session cluster → Kafka → InfluxDB / alerts."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import subprocess
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from PIL import Image

from connectors.influx_query import influxql
from connectors.influx_sink import InfluxSink
from connectors.kafka_io import client_settings, ensure_topics, producer
from connectors.pipeline_health import collect_health
from connectors.replay import ReplaySummary, format_offsets, replay
from pipelines.cur2 import CHARGE_TYPES
from pipelines.ingest_records import metric_record
from schemas import SchemaName, codec
from spendstream.config import Config
from spendstream.flink_client import job_failure, submit, wait_for_job

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "sample" / "cur2"
MALFORMED = ROOT / "tests" / "fixtures" / "cur2_malformed.csv"
POISON = b"\x00\x01 definitely not an avro cost event"
CENT = Decimal("0.01")


CPU_RESOURCE = "i-1111us00ec2"  # an EC2 instance of the bundled sample (retail-prod, us-east-1)
CPU_DAY = datetime(2026, 10, 2, tzinfo=UTC)


@dataclass
class Run:
    config: Config
    export: Path
    summary: ReplaySummary
    sink_points: int
    cpu_samples: dict[int, list[float]]
    job_id: str


def cpu_samples() -> list[tuple[int, float]]:
    """Five-minute CPU samples of one sample instance over one day (ms, percent)."""
    start = int(CPU_DAY.timestamp() * 1000)
    return [(start + minute * 60_000, 20 + (minute // 60) + (minute % 60) / 100) for minute in range(0, 24 * 60, 5)]


def produce_metrics(config: Config) -> dict[int, int]:
    """The CPU samples plus one poison message on the metrics topic; returns its end offsets."""
    out, ends = producer(config), {}
    topic = config.kafka.topic("metrics")
    futures = [
        out.send(
            topic,
            key=CPU_RESOURCE.encode(),
            timestamp_ms=ts,
            value=metric_record(
                {
                    "resource_id": CPU_RESOURCE,
                    "metric": "CPUUtilization",
                    "namespace": "AWS/EC2",
                    "timestamp_ms": ts,
                    "value": value,
                }
            )[1],
        )
        for ts, value in cpu_samples()
    ]
    futures.append(out.send(topic, key=CPU_RESOURCE.encode(), value=POISON, timestamp_ms=cpu_samples()[-1][0]))
    for future in futures:
        metadata = future.get(10)
        ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
    for partition in out.partitions_for(topic):
        ends.setdefault(partition, 0)
    out.close()
    return ends


def read_topic(config: Config, role: str) -> list:
    topic = config.kafka.topic(role)
    source = KafkaConsumer(**client_settings(config), enable_auto_commit=False, consumer_timeout_ms=3000)
    partitions = [TopicPartition(topic, p) for p in sorted(source.partitions_for_topic(topic))]
    source.assign(partitions)
    source.seek_to_beginning(*partitions)
    records = list(source)
    source.close()
    return records


def input_rows(export: Path) -> list[dict[str, str]]:
    """The valid rows of the export, read independently of the connector (csv + Decimal)."""
    rows = []
    for path in sorted(export.rglob("*.csv*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", newline="") as handle:
            rows.extend(r for r in csv.DictReader(handle) if None not in r and r["identity_line_item_id"])
    return [row for row in rows if _valid(row)]


def _valid(row: dict[str, str]) -> bool:
    try:
        cost = Decimal(row["line_item_unblended_cost"])
        start = datetime.fromisoformat(row["line_item_usage_start_date"])
        end = datetime.fromisoformat(row["line_item_usage_end_date"])
        json.loads(row["resource_tags"] or "{}")
    except (ArithmeticError, ValueError):
        return False
    return cost.is_finite() and end >= start


@pytest.fixture(scope="module")
def run(stack: Config, tmp_path_factory) -> Run:
    export = tmp_path_factory.mktemp("export")
    shutil.copytree(SAMPLE, export, dirs_exist_ok=True)
    shutil.copy(MALFORMED, export / "data" / "BILLING_PERIOD=2026-10" / "late-additions.csv")
    ensure_topics(stack)
    poison = producer(stack)
    poison.send(stack.kafka.topic("raw_cost"), POISON, partition=0, timestamp_ms=1790812800000).get(10)
    poison.close()

    summary = replay(export, stack, show_progress=False)
    metrics_until = format_offsets(produce_metrics(stack))
    job_args = ["--from-earliest", "--until-offsets", format_offsets(summary.end_offsets)]
    job_args += ["--metrics-until-offsets", metrics_until]
    # the sample's commitment advice saves ~$50/month, under the default $100 alert threshold
    alerting = replace(stack, optimizer=replace(stack.optimizer, alert_monthly_savings=25.0))
    job_id = submit(alerting, "cost-aggregation", job_args)
    state = wait_for_job(stack, job_id, timeout_s=600)
    assert state == "FINISHED", job_failure(stack, job_id)
    stats = InfluxSink(stack).run(until_idle_s=4)
    samples: dict[int, list[float]] = defaultdict(list)
    for ts, value in cpu_samples():
        samples[ts - ts % 3_600_000].append(value)
    return Run(stack, export, summary, stats.points, dict(samples), job_id)


def test_replay_summary_counts_what_was_read_produced_and_rejected(run: Run):
    valid = input_rows(run.export)
    assert run.summary.rows_read == len(valid) + 6
    assert run.summary.produced == len(valid)
    assert run.summary.rejected == 6
    expected = defaultdict(Decimal)
    for row in valid:
        expected[row["line_item_usage_account_id"]] += Decimal(row["line_item_unblended_cost"])
    assert run.summary.cost_by_account == expected


def test_malformed_rows_and_poison_messages_land_in_the_dead_letter_topic(run: Run):
    letters = [codec().decode(r.value, SchemaName.DEAD_LETTER) for r in read_topic(run.config, "dead_letter")]
    from_replay = sorted((Path(d["source"]).name, d["reason"]) for d in letters if d["stage"] == "replay")
    reasons = [reason for _, reason in from_replay]
    assert len(from_replay) == 6
    assert all(source.startswith("late-additions.csv:") for source, _ in from_replay)
    for expected in [
        "line_item_unblended_cost is not a decimal number",
        "identity_line_item_id is missing",
        "line_item_usage_start_date is not an ISO-8601 timestamp",
        "resource_tags is not valid JSON",
        "line_item_usage_end_date is before",
        "row has 6 columns",
    ]:
        assert sum(expected in reason for reason in reasons) == 1, (expected, reasons)
    from_job = [d for d in letters if d["stage"] == "job"]
    assert len(from_job) == 2 and all(d["payload"] == POISON for d in from_job)
    by_topic = {d["source"]: d for d in from_job}
    assert "undecodable cost event" in by_topic[run.config.kafka.topic("raw_cost")]["reason"]
    assert (
        by_topic[run.config.kafka.topic("raw_cost")]["partition"],
        by_topic[run.config.kafka.topic("raw_cost")]["offset"],
    ) == (0, 0)
    assert "undecodable metric event" in by_topic[run.config.kafka.topic("metrics")]["reason"]


def test_influxdb_totals_equal_input_per_account_day_and_charge_type_to_the_cent(run: Run):
    expected: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for row in input_rows(run.export):
        charge_type = CHARGE_TYPES.get(row["line_item_line_item_type"]).value
        day = row["line_item_usage_start_date"][:10]
        expected[(row["line_item_usage_account_id"], day, charge_type)] += Decimal(row["line_item_unblended_cost"])
    series = influxql(
        run.config.influx,
        "SELECT SUM(usd_micros), SUM(usd) FROM cost WHERE time >= '2026-09-01' AND time < '2026-12-01' "
        "GROUP BY time(1d), account, charge_type fill(none)",
    )
    actual: dict[tuple[str, str, str], tuple[Decimal, float]] = {}
    for item in series:
        for moment, micros, usd in item["values"]:
            day = datetime.fromtimestamp(moment / 1000, UTC).strftime("%Y-%m-%d")
            actual[(item["tags"]["account"], day, item["tags"]["charge_type"])] = (Decimal(micros) / 10**6, usd)
    assert set(actual) == set(expected)
    for key, total in expected.items():
        exact_from_influx, float_from_influx = actual[key]
        assert exact_from_influx.quantize(CENT) == total.quantize(CENT), key
        assert abs(exact_from_influx - total) < Decimal("0.0001"), key
        assert Decimal(str(round(float_from_influx, 2))) == total.quantize(CENT), key


def test_every_aggregate_id_is_unique_and_each_became_one_point(run: Run):
    aggregates = [codec().decode(r.value, SchemaName.COST_AGGREGATE) for r in read_topic(run.config, "aggregate")]
    roles = ("utilization", "anomaly", "forecast", "forecast_accuracy", "live_aggregate", "recommendation")
    roles += ("optimization_event", "unit_cost")
    others = sum(1 for role in roles for r in read_topic(run.config, role) if r.value is not None)
    assert len({a["aggregate_id"] for a in aggregates}) == len(aggregates) == run.sink_points - others
    rollups = [a for a in aggregates if a["scope"] == "cost_center"]
    detailed = [a for a in aggregates if a["scope"] == "account_service"]
    assert sum(Decimal(a["unblended_cost"]) for a in rollups) == sum(Decimal(a["unblended_cost"]) for a in detailed)
    assert {a["cost_center"] for a in rollups} == {"CC-100-retail", "CC-200-data", "CC-300-research"}
    teams = {a["team"] for a in detailed if a["account_id"] == "111111111111"}
    assert teams == {"web", "checkout", "unassigned"}  # from the user_team tag rule; fees/taxes carry no tags


def expected_crossings(rows: list[dict[str, str]]) -> set[tuple[str, str, str, int]]:
    """Budget crossings of accounts.yaml computed from the input rows, hour by hour."""
    hourly: dict[tuple[str, datetime], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        hour = datetime.fromisoformat(row["line_item_usage_start_date"]).replace(minute=0, second=0, microsecond=0)
        totals = hourly[(row["line_item_usage_account_id"], hour)]
        totals["total"] += Decimal(row["line_item_unblended_cost"])
        if row["line_item_line_item_type"] in ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"):
            totals["usage"] += Decimal(row["line_item_unblended_cost"])
    budgets = [
        ("444444444444", "daily", "usage", Decimal("250"), [Decimal("1.0")]),
        ("333333333333", "monthly", "total", Decimal("800"), [Decimal("0.8"), Decimal("1.0")]),
    ]
    found = set()
    for account, period, basis, amount, thresholds in budgets:
        running: dict[str, Decimal] = defaultdict(Decimal)
        for (acct, hour), totals in sorted(hourly.items()):
            if acct != account:
                continue
            key = hour.strftime("%Y-%m-%d" if period == "daily" else "%Y-%m")
            before, running[key] = running[key], running[key] + totals[basis]
            for threshold in thresholds:
                if before < amount * threshold <= running[key]:
                    end_ms = int(hour.timestamp() * 1000) + 3600_000
                    found.add((account, period, str(threshold * 100), end_ms))
    return found


def test_each_budget_crossing_produces_exactly_one_alert(run: Run):
    every = [codec().decode(r.value, SchemaName.ALERT) for r in read_topic(run.config, "alert")]
    assert len({a["alert_id"] for a in every}) == len(every)
    alerts = [a for a in every if a["kind"] == "budget"]
    got = {(a["account_id"], a["details"]["period"], a["details"]["threshold_pct"], a["window_end_ms"]) for a in alerts}
    expected = expected_crossings(input_rows(run.export))
    assert got == expected
    ml = [a for a in alerts if a["account_id"] == "444444444444"]
    assert len(ml) == 1
    assert ml[0]["details"]["period_start"] == "2026-10-15"
    assert ml[0]["severity"] == "critical"


def test_redelivered_aggregates_overwrite_instead_of_double_counting(run: Run):
    before = influxql(run.config.influx, "SELECT SUM(usd_micros), COUNT(usd_micros) FROM cost")[0]["values"][0][1:]
    again = replace(run.config, kafka=replace(run.config.kafka, consumer_group="redelivery-test"))
    stats = InfluxSink(again).run(until_idle_s=4)
    assert stats.points == run.sink_points
    after = influxql(run.config.influx, "SELECT SUM(usd_micros), COUNT(usd_micros) FROM cost")[0]["values"][0][1:]
    assert after == before


def test_v2_write_mode_against_a_server_with_the_v2_api(run: Run, victoria_metrics: str):
    config = replace(
        run.config,
        kafka=replace(run.config.kafka, consumer_group="v2-test"),
        influx=replace(run.config.influx, mode="v2", url=victoria_metrics, token="unused"),
    )
    stats = InfluxSink(config).run(until_idle_s=4)
    assert stats.points == run.sink_points and stats.retries == 0
    urllib.request.urlopen(f"{victoria_metrics}/internal/force_flush").read()
    query = "match[]=cost_usd_micros&start=2026-09-01T00:00:00Z&end=2026-12-01T00:00:00Z"
    with urllib.request.urlopen(f"{victoria_metrics}/api/v1/export?{query}") as response:
        series = [json.loads(line) for line in response.read().splitlines()]
    total_v2 = sum(Decimal(int(v)) for s in series for v in s["values"])
    total_v1 = Decimal(influxql(run.config.influx, "SELECT SUM(usd_micros) FROM cost")[0]["values"][0][1])
    assert total_v2 == total_v1
    assert sum(len(s["values"]) for s in series) == sum(
        1
        for r in read_topic(run.config, "aggregate")
        if codec().decode(r.value, SchemaName.COST_AGGREGATE)["scope"] == "account_service"
    )


def spendstream(stack_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "spendstream"), *args],
        env={**stack_env, "COLUMNS": "200"},  # rich tables unwrapped
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_alerts_tail_prints_every_alert_as_json(run: Run, stack_env):
    result = spendstream(stack_env, "alerts", "tail", "--json", "--from-beginning", "--until-idle", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(read_topic(run.config, "alert"))
    budget = [line for line in lines if line["kind"] == "budget"]
    assert len(budget) == len(expected_crossings(input_rows(run.export)))
    # recommendation: the sample's on-demand EC2 fleet gets advice worth more than the run's alert threshold
    assert {line["kind"] for line in lines} == {"budget", "anomaly", "projected_overspend", "recommendation"}
    assert all(line["window_end"].endswith("Z") for line in lines)


def test_alerts_mark_and_models_from_the_command_line(run: Run, stack_env):
    alert = codec().decode(read_topic(run.config, "alert")[0].value, SchemaName.ALERT)
    marked = spendstream(stack_env, "alerts", "mark", alert["alert_id"][:12], "--false-positive", "--note", "known")
    assert marked.returncode == 0, marked.stdout + marked.stderr
    assert f"marked {alert['alert_id']}" in marked.stdout and "as false positive" in marked.stdout
    unmarked = spendstream(stack_env, "alerts", "mark", alert["alert_id"][:12])
    assert unmarked.returncode != 0 and "--confirmed | --false-positive" in unmarked.stdout + unmarked.stderr
    unknown = spendstream(stack_env, "alerts", "mark", "f" * 32, "--confirmed")
    assert unknown.returncode != 0 and "alerts tail --from-beginning" in unknown.stdout + unknown.stderr
    models = spendstream(stack_env, "models")
    assert models.returncode == 0, models.stdout + models.stderr
    assert "anomaly detection" in models.stdout and "series_monitor_state v3" in models.stdout
    assert models.stdout.count("account_monitor_state v6") == 3 and "seasonal naive" in models.stdout


def test_stack_status_and_job_dry_run(run: Run, stack_env):
    status = spendstream(stack_env, "stack", "status")
    assert status.returncode == 0, status.stdout
    # seaweedfs, tansu, influxdb, flink, pushgateway, api, supervisor, pipeline (off in the tests)
    assert status.stdout.count("yes") == 8 and "stack.pipeline: false" in status.stdout
    dry = spendstream(stack_env, "job", "submit", "--dry-run", "--until-offsets", "0:5")
    assert dry.returncode == 0, dry.stderr
    assert "flink run --detached" in dry.stdout
    assert "--python" in dry.stdout and "jobs/cost_aggregation.py --until-offsets 0:5" in dry.stdout


def test_job_list_shows_the_jobs_records_and_each_groups_lag(run: Run, stack_env):
    listing = spendstream(stack_env, "job", "list")
    assert listing.returncode == 0, listing.stdout + listing.stderr
    job_row = next(line for line in listing.stdout.splitlines() if run.job_id in line)
    assert "FINISHED" in job_row
    records_in = int(job_row.split("│")[-3].strip().replace(",", ""))
    assert records_in >= run.summary.produced
    topic, stored = run.config.kafka.topic("aggregate"), len(read_topic(run.config, "aggregate"))
    sink_row = next(line for line in listing.stdout.splitlines() if "spendstream-influx-sink" in line and topic in line)
    assert [cell.strip() for cell in sink_row.split("│")[-4:-1]] == [f"{stored:,}", f"{stored:,}", "0"]


def test_utilization_joins_each_resource_hours_cost_and_cpu(run: Run):
    expected_cost: dict[int, Decimal] = defaultdict(Decimal)
    for row in input_rows(run.export):
        if row["line_item_resource_id"] == CPU_RESOURCE and row["line_item_line_item_type"] == "Usage":
            expected_cost[int(datetime.fromisoformat(row["line_item_usage_start_date"]).timestamp() * 1000)] += Decimal(
                row["line_item_unblended_cost"]
            )
    records = [codec().decode(r.value, SchemaName.RESOURCE_UTILIZATION) for r in read_topic(run.config, "utilization")]
    assert {r["window_start_ms"] for r in records} == set(run.cpu_samples)  # the 24 hours that have both
    for record in records:
        samples = run.cpu_samples[record["window_start_ms"]]
        assert (record["resource_id"], record["account_id"], record["service"], record["metric"]) == (
            CPU_RESOURCE,
            "111111111111",
            "AmazonEC2",
            "CPUUtilization",
        )
        assert Decimal(record["cost"]) == expected_cost[record["window_start_ms"]]
        assert record["avg_value"] == pytest.approx(sum(samples) / len(samples))
        assert (record["max_value"], record["samples"]) == (max(samples), 12)
    series = influxql(
        run.config.influx,
        f"SELECT SUM(cost_usd_micros), COUNT(avg) FROM utilization WHERE resource_id = '{CPU_RESOURCE}'",
    )
    micros, points = series[0]["values"][0][1:]
    assert points == 24
    total = sum(expected_cost[h] for h in run.cpu_samples)
    assert (Decimal(micros) / 10**6).quantize(CENT) == total.quantize(CENT)
    assert abs(Decimal(micros) / 10**6 - total) <= points * Decimal("0.0000005")  # half a micro-dollar per point


GRAFANA = ROOT / "deploy" / "grafana" / "dashboards"
SAMPLE_RANGE = "time >= '2026-09-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z'"


HEALTH_DASHBOARD = "spendstream-health.json"  # wall-clock data: tested in test_observability.py
SAVINGS_DASHBOARD = "spendstream-savings.json"  # a bill whose advice is followed: test_recommendations.py


def grafana_queries(names: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """(where, InfluxQL) of every panel target, annotation and variable of the shipped cost dashboards."""
    found = []
    tested_elsewhere = (HEALTH_DASHBOARD, SAVINGS_DASHBOARD)
    names = names or tuple(sorted(p.name for p in GRAFANA.glob("*.json") if p.name not in tested_elsewhere))
    for path in (GRAFANA / name for name in names):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            found += [(f"{path.name}: {panel['title']} [{t['refId']}]", t["query"]) for t in panel["targets"]]
        found += [(f"{path.name}: annotation {a['name']}", a["query"]) for a in board["annotations"]["list"]]
        found += [(f"{path.name}: variable {v['name']}", v["query"]) for v in board["templating"]["list"]]
    return found


def as_grafana_runs_it(query: str) -> str:
    """Grafana's macros and the 'All' account selection, as Grafana substitutes them."""
    return query.replace("$timeFilter", SAMPLE_RANGE).replace("$__interval", "1h").replace("$account", ".*")


def test_every_dashboard_query_returns_data_from_the_real_influxdb(run: Run):
    queries = grafana_queries()
    assert len({where.split(":")[0] for where, _ in queries}) == 4 and len(queries) >= 15
    empty = [where for where, query in queries if not influxql(run.config.influx, as_grafana_runs_it(query))]
    assert empty == []


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def screenshot(page: Path, out: Path, size: tuple[int, int]) -> Image.Image:
    """Debian's Chromium, headless, as a person would open the page."""
    profile = out.parent / "chromium-profile"
    subprocess.run(
        [shutil.which("chromium") or "/usr/bin/chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
         f"--window-size={size[0]},{size[1]}", f"--screenshot={out}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return Image.open(out).convert("RGB")


def test_report_page_renders_every_dashboard_in_headless_chromium(run: Run, stack_env, tmp_path):
    collect_health(run.config, every_s=15.5, rounds=2)  # rates need two 15 s buckets; no job runs now
    page = tmp_path / "report.html"
    made = spendstream(stack_env, "report", "--out", str(page))
    assert made.returncode == 0, made.stdout + made.stderr
    panels = sum(len(json.loads(path.read_text())["panels"]) for path in GRAFANA.glob("*.json"))
    assert f"{panels} panels, {panels - 2} with data" in made.stdout, made.stdout
    assert "no data: spendstream — pipeline health: Flink jobs: records in" in made.stdout
    assert "no data: spendstream — savings: Savings realized" in made.stdout  # no advice was followed here
    assert page.read_text().count("<section>") == panels

    image = screenshot(page, tmp_path / "report.png", (1400, 2400))
    assert image.size == (1400, 2400)
    colors = Counter(image.get_flattened_data())
    lines = sum(n for (r, g, b), n in colors.items() if abs(r - 0x25) + abs(g - 0x63) + abs(b - 0xEB) < 60)
    assert lines > 2000, "the charts' first series (blue) is not drawn"
    assert len(colors) > 200, "the page rendered flat"
