"""Read back from InfluxDB with InfluxQL (``/query``: 1.x, 2.x's v1 API, 3.x)."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime

import urllib3

from spendstream.config import InfluxSettings, require


class DatabaseNotFoundError(RuntimeError):
    """The database does not exist yet: the sink creates it with its first write."""


def influxql(settings: InfluxSettings, query: str) -> list[dict]:
    """Run one InfluxQL statement; returns its series (name, tags, columns, values)."""
    url = require(settings.url, "InfluxDB URL", "SPENDSTREAM_INFLUX_URL").rstrip("/")
    params = {"db": settings.database if settings.mode == "v1" else settings.bucket, "q": query, "epoch": "ms"}
    headers = {"Authorization": f"Token {settings.token}"} if settings.token else {}
    response = urllib3.request("GET", f"{url}/query?{urllib.parse.urlencode(params)}", headers=headers, timeout=30)
    if response.status != 200:
        raise RuntimeError(f"InfluxQL query failed (HTTP {response.status}): {response.data[:300]!r}")
    result = json.loads(response.data)["results"][0]
    if "error" in result and result["error"].startswith("database not found"):
        raise DatabaseNotFoundError(
            f"InfluxDB has no database {params['db']!r} yet: nothing was written; is `spendstream sink influx` running?"
        )
    if "error" in result:
        raise RuntimeError(f"InfluxQL error: {result['error']} in {query!r}")
    return result.get("series", [])


def daily_cost_by_account(settings: InfluxSettings) -> dict[str, dict[str, int]]:
    """{day: {account_name: micro-dollars}} over everything in measurement ``cost``."""
    first = influxql(settings, 'SELECT FIRST("usd_micros") FROM "cost"')
    if not first:
        return {}
    last = influxql(settings, 'SELECT LAST("usd_micros") FROM "cost"')
    series = influxql(
        settings,
        f'SELECT SUM("usd_micros") FROM "cost" WHERE time >= {first[0]["values"][0][0]}ms '
        f'AND time <= {last[0]["values"][0][0]}ms GROUP BY time(1d), "account_name" fill(none)',
    )
    table: dict[str, dict[str, int]] = {}
    for item in series:
        for moment, total in item["values"]:
            day = datetime.fromtimestamp(moment / 1000, UTC).strftime("%Y-%m-%d")
            table.setdefault(day, {})[item["tags"]["account_name"]] = int(total)
    return dict(sorted(table.items()))


def anomaly_episodes(settings: InfluxSettings) -> list[dict]:
    """Opened anomaly episodes, oldest first: time, account, service, actual, expected, score."""
    series = influxql(
        settings,
        "SELECT actual_usd, expected_usd, score, reasons FROM anomaly WHERE status = 'open' "
        "GROUP BY account_name, service",
    )
    rows = [
        {"time": moment, **item["tags"], "actual": actual, "expected": expected, "score": score, "reasons": reasons}
        for item in series
        for moment, actual, expected, score, reasons in item["values"]
    ]
    return sorted(rows, key=lambda row: row["time"])


def latest_account_forecasts(
    settings: InfluxSettings, days: int = 7
) -> dict[str, list[tuple[int, float, float, float]]]:
    """{account: [(day ms, predicted, lower, upper)]} for the first ``days`` days of the newest forecast."""
    last = influxql(settings, "SELECT LAST(made_at) FROM forecast WHERE service = '*'")
    if not last:
        return {}
    made_at = last[0]["values"][0][1]
    series = influxql(
        settings,
        f"SELECT predicted_usd, lower_usd, upper_usd FROM forecast WHERE service = '*' AND made_at = '{made_at}' "
        f"GROUP BY account",
    )
    return {item["tags"]["account"]: [tuple(v) for v in item["values"][:days]] for item in series}


def latest_recommendations(settings: InfluxSettings) -> list[tuple[str, str, str, str, float]]:
    """(account, type, current type, recommended type, monthly saving) open on the newest day refreshed."""
    last = influxql(settings, "SELECT LAST(savings_usd) FROM recommendation")
    if not last:
        return []
    newest = last[0]["values"][0][0]
    series = influxql(
        settings,
        "SELECT savings_usd, current_type, recommended_type FROM recommendation "
        f"WHERE status = 'open' AND time = {newest}ms GROUP BY account, type",
    )
    rows = [
        (item["tags"]["account"], item["tags"]["type"], current, target, savings)
        for item in series
        for _, savings, current, target in item["values"]
    ]
    return sorted(rows, key=lambda row: -row[4])
