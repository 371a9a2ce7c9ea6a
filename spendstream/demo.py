"""``make demo``: the bundled sample through replay → Kafka → Flink → InfluxDB and the alert topic.

The job aggregates, detects anomalies, forecasts and recommends; the demo prints daily costs, the
anomalies, the newest forecasts, the open recommendations and every alert (budget, anomaly,
projected overspend, recommendation).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.console import Console

from connectors.alerts import print_alerts
from connectors.influx_query import (
    anomaly_episodes,
    daily_cost_by_account,
    latest_account_forecasts,
    latest_recommendations,
)
from connectors.influx_sink import InfluxSink
from connectors.replay import replay
from spendstream.config import Config, with_embedded_endpoints
from spendstream.flink_client import job_failure, run_command, submit, wait_for_job
from spendstream.stack import LocalStack
from spendstream.tables import print_anomalies, print_daily_costs, print_forecasts, print_recommendations


def run_demo(config: Config, sample: Path, console: Console) -> int:
    console.rule("1/5  start the embedded stack")
    with console.status("starting SeaweedFS, Tansu, InfluxDB and Flink ..."):
        LocalStack(config).up()
    config = with_embedded_endpoints(config)
    console.print(f"Kafka {config.kafka.bootstrap}, InfluxDB {config.influx.url}, Flink {config.flink.rest_url}")

    console.rule(f"2/5  replay {sample}")
    summary = replay(sample, config)
    console.print(f"rows read {summary.rows_read}, produced {summary.produced}, rejected {summary.rejected}")
    for period in summary.deliveries.unchanged:
        console.print(f"billing period {period}: this delivery was already published (demo ran before); nothing new")

    console.rule("3/5  run the cost aggregation job on the Flink session cluster")
    job_args = summary.backfill_args()
    console.print("[dim]$ " + shlex.join(run_command(config, "cost-aggregation", job_args)))
    with console.status("submitting ..."):
        job_id = submit(config, "cost-aggregation", job_args)
    with console.status(f"job {job_id} running (web UI {config.flink.rest_url}) ..."):
        state = wait_for_job(config, job_id)
    if state != "FINISHED":
        console.print(f"[red]job {job_id} ended {state}: {job_failure(config, job_id)}")
        return 1
    console.print(f"job {job_id} finished")

    console.rule("4/5  write aggregates to InfluxDB")
    with console.status("sink running until the aggregate topic is drained ..."):
        stats = InfluxSink(config).run(until_idle_s=5)
    console.print(f"{stats.records} aggregates → {stats.points} points")

    console.rule("5/5  results")
    print_daily_costs(console, daily_cost_by_account(config.influx))
    print_anomalies(console, anomaly_episodes(config.influx))
    print_forecasts(console, latest_account_forecasts(config.influx, days=3))
    print_recommendations(console, latest_recommendations(config.influx))
    console.print("[bold]alerts on the alert topic:")
    print_alerts(config, console, as_json=False, from_beginning=True, group=None, until_idle_s=3)
    console.print(f"\nFlink web UI: {config.flink.rest_url}")
    api = LocalStack(config).endpoints["api"]
    console.print(
        f"API and console: {api}/console/ (REST /v1, GraphQL /graphql); a token to sign in with: "
        "[bold].venv/bin/spendstream api token --account 111111111111[/]"
    )
    console.print(
        "The stack keeps running for you to explore; stop it with [bold]make stop[/] (or `spendstream stack down`)."
    )
    return 0
