"""Writes deploy/grafana/dashboards/*.json: the spendstream dashboards, InfluxQL on the sink's measurements.

    python deploy/grafana/build_dashboards.py

The dashboards are generated so every panel has the same shape and datasource; the JSON files are
committed (Grafana provisioning reads them) and tests/integration/test_pipeline.py runs every
panel's query against the real InfluxDB after a replay of the sample.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "influxdb", "uid": "spendstream-influxdb"}
ACCOUNT = '"account" =~ /^$account$/'


def target(query: str, ref: str = "A", alias: str = "") -> dict:
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "query": query,
        "rawQuery": True,
        "resultFormat": "time_series",
        "alias": alias,
    }


def panel(
    title: str, targets: list[dict], x: int, y: int, kind: str = "timeseries", w: int = 12, h: int = 8, **extra
) -> dict:
    return {
        "title": title,
        "type": kind,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        **extra,
    }


def account_variable() -> dict:
    return {
        "name": "account",
        "label": "account",
        "type": "query",
        "datasource": DATASOURCE,
        "query": 'SHOW TAG VALUES FROM "cost" WITH KEY = "account"',
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
    }


def dashboard(
    uid: str, title: str, panels: list[dict], annotations: list[dict] | None = None, by_account: bool = True
) -> dict:
    for number, item in enumerate(panels, start=1):
        item["id"] = number
    return {
        "uid": uid,
        "title": title,
        "tags": ["spendstream", "finops"],
        "timezone": "utc",
        "schemaVersion": 39,
        "time": {"from": "now-30d", "to": "now"},
        "templating": {"list": [account_variable()] if by_account else []},
        "annotations": {"list": annotations or []},
        "panels": panels,
    }


def spend() -> dict:
    by = 'SELECT sum("usd") FROM "{m}" WHERE $timeFilter{f} GROUP BY time($__interval), "{tag}" fill(none)'
    return dashboard(
        "spendstream-spend",
        "spendstream — spend",
        [
            panel(
                "Spend by account (USD)",
                [target(by.format(m="cost", f=f" AND {ACCOUNT}", tag="account_name"), alias="$tag_account_name")],
                0,
                0,
            ),
            panel(
                "Spend by service (USD)",
                [target(by.format(m="cost", f=f" AND {ACCOUNT}", tag="service"), alias="$tag_service")],
                12,
                0,
            ),
            panel(
                "Spend by cost center (USD)",
                [target(by.format(m="cost_by_cost_center", f="", tag="cost_center"), alias="$tag_cost_center")],
                0,
                8,
            ),
            panel(
                "Spend by environment (USD)",
                [target(by.format(m="cost", f=f" AND {ACCOUNT}", tag="environment"), alias="$tag_environment")],
                12,
                8,
            ),
            panel(
                "Total in range (USD, exact)",
                [target(f'SELECT sum("usd_micros") / 1000000 FROM "cost" WHERE $timeFilter AND {ACCOUNT}')],
                0,
                16,
                kind="stat",
                w=6,
                h=5,
            ),
            panel(
                "By charge type (USD)",
                [
                    target(
                        f'SELECT sum("usd") FROM "cost" WHERE $timeFilter AND {ACCOUNT} GROUP BY "charge_type"',
                        alias="$tag_charge_type",
                    )
                ],
                6,
                16,
                kind="barchart",
                w=18,
                h=5,
            ),
            panel(
                "Live: hours still open, by service, updated as events arrive (USD)",
                [
                    target(
                        f'SELECT sum("usd") FROM "cost_live" WHERE $timeFilter AND {ACCOUNT} '
                        'GROUP BY time(1h), "service" fill(none)',
                        alias="$tag_service",
                    )
                ],
                0,
                21,
                w=24,
            ),
        ],
    )


def budgets() -> dict:
    actual = (
        f'SELECT cumulative_sum(sum("usd")) FROM "cost" WHERE $timeFilter AND {ACCOUNT} '
        'GROUP BY time(1d), "account_name" fill(0)'
    )
    projection = (
        'SELECT cumulative_sum(sum("predicted_usd")) FROM "forecast" WHERE $timeFilter AND "service" = \'*\' '
        f'AND {ACCOUNT} GROUP BY time(1d), "account" fill(none)'
    )
    return dashboard(
        "spendstream-budgets",
        "spendstream — budget burn-down",
        [
            panel("Spend so far in range, cumulative (USD)", [target(actual, alias="$tag_account_name")], 0, 0, w=24),
            panel(
                "Forecast, cumulative over the range (USD)",
                [target(projection, alias="$tag_account projection")],
                0,
                8,
                w=24,
            ),
            panel(
                "Projected-overspend and budget alerts are on the alert topic; per account month-to-date (USD)",
                [
                    target(
                        f'SELECT sum("usd") FROM "cost" WHERE $timeFilter AND {ACCOUNT} '
                        'GROUP BY time(30d), "account_name" fill(none)',
                        alias="$tag_account_name",
                    )
                ],
                0,
                16,
                kind="barchart",
                w=24,
            ),
        ],
    )


def anomalies() -> dict:
    usage = (
        f'SELECT sum("usd") FROM "cost" WHERE $timeFilter AND "charge_type" = \'usage\' AND {ACCOUNT} '
        'GROUP BY time(1h), "account_name", "service" fill(0)'
    )
    opened = (
        'SELECT "actual_usd", "expected_usd", "score", "reasons" FROM "anomaly" '
        f"WHERE $timeFilter AND \"status\" = 'open' AND {ACCOUNT}"
    )
    annotation = {
        "name": "anomalies",
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": "red",
        "query": f'SELECT "reasons" FROM "anomaly" WHERE $timeFilter AND "status" = \'open\' AND {ACCOUNT}',
        "textColumn": "reasons",
        "tagsColumn": "service",
    }
    return dashboard(
        "spendstream-anomalies",
        "spendstream — anomalies",
        [
            panel(
                "Hourly usage cost, anomalies marked (USD)",
                [target(usage, alias="$tag_account_name $tag_service")],
                0,
                0,
                w=24,
                h=9,
            ),
            panel(
                "Anomaly episodes: actual vs expected at the flagged hours (USD)",
                [
                    target(
                        f'SELECT "actual_usd", "expected_usd" FROM "anomaly" WHERE $timeFilter AND {ACCOUNT} '
                        'GROUP BY "service"',
                        alias="$tag_service $col",
                    )
                ],
                0,
                9,
                w=12,
            ),
            panel("Opened anomalies", [{**target(opened), "resultFormat": "table"}], 12, 9, kind="table", w=12),
        ],
        annotations=[annotation],
    )


def forecast() -> dict:
    actual = (
        f'SELECT sum("usd") AS "actual" FROM "cost" WHERE $timeFilter AND "charge_type" = \'usage\' AND {ACCOUNT} '
        "GROUP BY time(1d) fill(none)"
    )
    predicted = (
        'SELECT sum("predicted_usd") AS "forecast", sum("lower_usd") AS "lower", sum("upper_usd") AS "upper" '
        f'FROM "forecast" WHERE $timeFilter AND "service" = \'*\' AND {ACCOUNT} GROUP BY time(1d) fill(none)'
    )
    band = {
        "overrides": [
            {
                "matcher": {"id": "byName", "options": "upper"},
                "properties": [{"id": "custom.fillBelowTo", "value": "lower"}],
            },
            {"matcher": {"id": "byName", "options": "lower"}, "properties": [{"id": "custom.lineWidth", "value": 0}]},
        ]
    }
    return dashboard(
        "spendstream-forecast",
        "spendstream — forecast vs actual",
        [
            panel(
                "Daily usage cost: actual, forecast and its 80% interval (USD)",
                [target(actual), target(predicted, "B")],
                0,
                0,
                w=24,
                h=10,
                fieldConfig=band,
            ),
            panel(
                "Forecast per service (USD/day)",
                [
                    target(
                        f'SELECT sum("predicted_usd") FROM "forecast" WHERE $timeFilter AND "service" != \'*\' '
                        f'AND {ACCOUNT} GROUP BY time(1d), "service" fill(none)',
                        alias="$tag_service",
                    )
                ],
                0,
                10,
                w=24,
            ),
            *accuracy_panels(y=18),
        ],
    )


def accuracy_panels(y: int) -> list[dict]:
    """Live accuracy of the account totals: each day, the forecasts made for it (every horizon) as scored."""
    scored = (
        f'FROM "forecast_accuracy" WHERE $timeFilter AND "service" = \'*\' AND {ACCOUNT} GROUP BY time(1d) fill(none)'
    )
    errors = f'SELECT mean("ape") AS "model", mean("naive_ape") AS "seasonal naive" {scored}'
    coverage = f'SELECT mean("covered") AS "coverage" {scored}'
    return [
        panel("Forecast error as days arrive: MAPE, model vs seasonal naive", [target(errors)], 0, y, w=12),
        panel("80% interval coverage as days arrive (target 0.8)", [target(coverage)], 12, y, w=12),
    ]


def savings() -> dict:
    """The optimization engine: what the open recommendations would save, and what changes saved."""
    on_offer = (
        'SELECT sum("savings_usd") FROM "recommendation" WHERE $timeFilter AND "status" = \'open\' '
        f'AND {ACCOUNT} GROUP BY time(1d), "type" fill(none)'
    )
    realized = (
        'SELECT sum("achieved_usd") AS "achieved", sum("predicted_usd") AS "predicted" FROM "optimization_event" '
        f"WHERE $timeFilter AND {ACCOUNT} GROUP BY time(1d) fill(none)"
    )
    return dashboard(
        "spendstream-savings",
        "spendstream — savings",
        [
            panel(
                "Monthly savings on offer by kind (open recommendations, USD/month)",
                [target(on_offer, alias="$tag_type")],
                0,
                0,
                w=24,
            ),
            panel(
                "Savings realized against predicted (changes seen in the bill, USD/month)",
                [target(realized)],
                0,
                8,
                w=24,
                kind="barchart",
            ),
        ],
    )


def health() -> dict:
    """Written by `spendstream health` at wall-clock time: throughput, lag, dead letters, job records."""
    rate = (
        'SELECT non_negative_derivative(last("{field}"), 1s) FROM "{m}" WHERE $timeFilter{f} '
        'GROUP BY time($__interval), "{tag}" fill(none)'
    )
    board = dashboard(
        "spendstream-health",
        "spendstream — pipeline health",
        [
            panel(
                "Records written per topic (records/s)",
                [
                    target(
                        rate.format(
                            field="records", m="pipeline_topic", f=" AND \"role\" != 'dead_letter'", tag="topic"
                        ),
                        alias="$tag_topic",
                    )
                ],
                0,
                0,
            ),
            panel(
                "Flink jobs: records in (records/s)",
                [target(rate.format(field="records_in", m="pipeline_job", f="", tag="job"), alias="$tag_job")],
                12,
                0,
            ),
            panel(
                "Consumer lag (records)",
                [
                    target(
                        'SELECT last("lag") FROM "pipeline_lag" WHERE $timeFilter '
                        'GROUP BY time($__interval), "group", "topic" fill(none)',
                        alias="$tag_group $tag_topic",
                    )
                ],
                0,
                8,
            ),
            panel(
                "Dead letters (total in the topic)",
                [
                    target(
                        'SELECT last("records") FROM "pipeline_topic" WHERE $timeFilter AND "role" = \'dead_letter\' '
                        "GROUP BY time($__interval) fill(none)"
                    )
                ],
                12,
                8,
            ),
            panel(
                "New dead letters by stage and reason",
                [
                    target(
                        'SELECT sum("records") FROM "pipeline_dead_letters" WHERE $timeFilter '
                        'GROUP BY time($__interval), "stage", "reason" fill(none)',
                        alias="$tag_stage: $tag_reason",
                    )
                ],
                0,
                16,
                kind="barchart",
                w=24,
            ),
        ],
        by_account=False,
    )
    board["time"] = {"from": "now-6h", "to": "now"}
    board["refresh"] = "30s"
    return board


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for build in (spend, budgets, anomalies, forecast, savings, health):
        board = build()
        (OUT / f"{board['uid']}.json").write_text(json.dumps(board, indent=2) + "\n")
        print(f"wrote {OUT / (board['uid'] + '.json')}")


if __name__ == "__main__":
    main()
