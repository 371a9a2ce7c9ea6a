"""Tables the CLI prints."""

from __future__ import annotations

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
