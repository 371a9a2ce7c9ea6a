"""``make demo``: the bundled sample through replay → Kafka → Flink → InfluxDB and the alert topic.

`stack up` runs the whole pipeline (spendstream/supervisor.py), so the demo only replays the
sample with a heartbeat and waits for the job and the sink to catch up. The job aggregates,
detects anomalies, forecasts and recommends; the demo prints daily costs, the anomalies, the
newest forecasts, the open recommendations and every alert (budget, anomaly, projected
overspend, recommendation).
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
from connectors.replay import replay
from spendstream.config import Config, with_embedded_endpoints
from spendstream.stack import LocalStack
from spendstream.supervisor import cost_job, wait_until_caught_up
from spendstream.tables import print_anomalies, print_daily_costs, print_forecasts, print_recommendations


def run_demo(config: Config, sample: Path, console: Console) -> int:
    console.rule("1/4  start the embedded stack: servers, the cost job, the sink, the API")
    with console.status("starting SeaweedFS, Tansu, InfluxDB, Flink, the API and the pipeline ..."):
        LocalStack(config).up()
    config = with_embedded_endpoints(config)
    console.print(f"Kafka {config.kafka.bootstrap}, InfluxDB {config.influx.url}, Flink {config.flink.rest_url}")
    job = cost_job(config)
    console.print(
        f"cost job {job.job_id if job else '?'} running continuously; the InfluxDB sink and health writer too"
    )

    console.rule(f"2/4  replay {sample} (a heartbeat after it closes its last hours)")
    console.print(f"[dim]$ spendstream replay {shlex.quote(str(sample))} --heartbeat")
    summary = replay(sample, config, heartbeat=True)
    console.print(f"rows read {summary.rows_read}, produced {summary.produced}, rejected {summary.rejected}")
    for period in summary.deliveries.unchanged:
        console.print(f"billing period {period}: this delivery was already published (demo ran before); nothing new")

    console.rule("3/4  the job aggregates, detects, forecasts and recommends; the sink writes InfluxDB")
    with console.status("waiting for the job and the sink to catch up ...") as status:
        wait_until_caught_up(
            config,
            lambda lag: status.update(", ".join(f"{name}: {n:,} records to read" for name, n in lag.items())),
            timeout_s=1800,
        )
    console.print("caught up")

    console.rule("4/4  results")
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
