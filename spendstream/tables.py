"""Tables the CLI prints."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table


def print_daily_costs(console: Console, table_data: dict[str, dict[str, int]]) -> None:
    """Days down, accounts across, in dollars (the data is exact micro-dollars)."""
    accounts = sorted({name for row in table_data.values() for name in row})
    table = Table("day", *accounts, "total", title="cost per account per day (USD, from InfluxDB)")
    for day, row in table_data.items():
        cells = [f"{row.get(name, 0) / 1e6:,.2f}" for name in accounts]
        table.add_row(day, *cells, f"{sum(row.values()) / 1e6:,.2f}")
    console.print(table)


def print_anomalies(console: Console, episodes: list[dict]) -> None:
    table = Table("hour (UTC)", "account", "service", "actual", "expected", "score", "why", title="anomalies (opened)")
    for row in episodes:
        moment = datetime.fromtimestamp(row["time"] / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            moment, row["account_name"], row["service"], f"{row['actual']:,.2f}", f"{row['expected']:,.2f}",
            f"{row['score']:.1f}", row["reasons"],
        )  # fmt: skip
    console.print(table)


def print_forecasts(console: Console, forecasts: dict[str, list[tuple[int, float, float, float]]]) -> None:
    table = Table("account", "day", "forecast (USD)", "80% interval", title="next days, newest account forecasts")
    for account, days in sorted(forecasts.items()):
        for moment, predicted, lower, upper in days:
            day = datetime.fromtimestamp(moment / 1000, UTC).strftime("%Y-%m-%d")
            table.add_row(account, day, f"{predicted:,.2f}", f"{lower:,.2f} – {upper:,.2f}")
    console.print(table)


def print_recommendations(console: Console, rows: list[tuple[str, str, str, str, float]]) -> None:
    table = Table("account", "kind", "now", "recommended", "saves (USD/month)", title="open recommendations")
    for account, kind, current, target, savings in rows:
        table.add_row(account, kind.replace("_", " "), current, target or "stop", f"{savings:,.2f}")
    console.print(table if rows else "no recommendations (no EC2 instance usage with enough history)")


def print_consumer_lag(console: Console, lags: list) -> None:
    """One row per group and topic: what the group committed, what is stored, the difference."""
    totals: dict[tuple[str, str], list[int]] = {}
    for item in lags:
        committed_end_lag = totals.setdefault((item.group, item.topic), [0, 0, 0])
        for i, value in enumerate((item.committed, item.end, item.lag)):
            committed_end_lag[i] += value
    table = Table("consumer group", "topic", "committed", "stored", "lag", title="consumer lag (records)")
    for (group, topic), (committed, end, lag) in sorted(totals.items()):
        table.add_row(group, topic, f"{committed:,}", f"{end:,}", f"[red]{lag:,}" if lag else "0")
    console.print(table if totals else "no consumer group has committed offsets yet")


def print_models(console: Console, families: list) -> None:
    """``spendstream models``: one block per model family (spendstream/models.py); its live figures are long."""
    for family in families:
        console.print(f"[bold]{family.name}[/]")
        for label, value in (("code", family.code), ("state", family.version), ("data", family.data)):
            console.print(f"  {label:<6}{value}")
        console.print(f"  live  {family.live}")
