"""``spendstream report``: the Grafana dashboards rendered as one static HTML page.

Each panel's own InfluxQL (from deploy/grafana/dashboards/*.json) runs against InfluxDB with
Grafana's macros filled in the way Grafana fills them, and is drawn as inline SVG (lines, bars),
a number (stat) or a table. Where Grafana is not installed, this is the same view; it also
proves the dashboards' queries, since a panel without data says so on the page.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.influx_query import influxql
from spendstream import SOURCE_ROOT
from spendstream.config import InfluxSettings

DASHBOARDS = SOURCE_ROOT / "deploy" / "grafana" / "dashboards"
WIDTH, HEIGHT, PAD = 560, 220, 36
COLORS = ("#2563eb", "#ea580c", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04", "#db2777")
NO_DATA = "no data"


@dataclass(frozen=True)
class Macros:
    """What Grafana substitutes: the time range, the interval, the account selection ("All")."""

    time_filter: str
    interval: str

    def apply(self, query: str) -> str:
        return (
            query.replace("$timeFilter", self.time_filter)
            .replace("$__interval", self.interval)
            .replace("$account", ".*")
        )


def cost_macros(settings: InfluxSettings, days: int) -> Macros:
    """The last ``days`` days of cost data and the 30 forecast days after them, by day."""
    newest = influxql(settings, 'SELECT LAST("usd_micros") FROM "cost"')
    end = datetime.fromtimestamp(newest[0]["values"][0][0] / 1000, UTC) if newest else datetime.now(UTC)
    start, stop = end - timedelta(days=days), end + timedelta(days=31)
    return Macros(f"time >= '{start:%Y-%m-%dT%H:%M:%SZ}' AND time < '{stop:%Y-%m-%dT%H:%M:%SZ}'", "1d")


HEALTH = Macros("time > now() - 6h", "15s")  # written at wall-clock time, every 15 s by default


def series_name(series: dict, column: str, many_columns: bool) -> str:
    tags = " ".join(str(v) for v in (series.get("tags") or {}).values())
    return " ".join(part for part in (tags, column if many_columns or not tags else "") if part) or column


def line_chart(series: list[dict]) -> str:
    """Every value column of every series as a line over time."""
    lines = []
    for item in series:
        columns = item["columns"][1:]
        for i, column in enumerate(columns, start=1):
            points = [(row[0], row[i]) for row in item["values"] if isinstance(row[i], int | float)]
            if points:
                lines.append((series_name(item, column, len(columns) > 1), points))
    if not lines:
        return f"<p class='empty'>{NO_DATA}</p>"
    times = [t for _, points in lines for t, _ in points]
    values = [v for _, points in lines for _, v in points]
    t0, t1, low, high = min(times), max(times), min(min(values), 0), max(values)
    parts, legend = [], []
    for n, (name, points) in enumerate(lines[: len(COLORS) * 3]):
        color = COLORS[n % len(COLORS)]
        coords = " ".join(f"{_x(t, t0, t1):.1f},{_y(v, low, high):.1f}" for t, v in points)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{coords}"/>')
        legend.append(f"<span style='color:{color}'>■</span> {html.escape(name)}")
    first, last = (datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d %H:%M") for t in (t0, t1))
    parts.append(f'<text x="{PAD}" y="14" font-size="11">max {high:,.2f}</text>')
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="10">{first}</text>')
    parts.append(f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="10" text-anchor="end">{last}</text>')
    return _svg(parts) + f"<div class='legend'>{' · '.join(legend)}</div>"


def bar_chart(series: list[dict]) -> str:
    """One bar per series: the sum of its values (the panels that group by a tag only)."""
    bars = [(series_name(s, s["columns"][1], False), sum(r[1] or 0 for r in s["values"])) for s in series]
    if not bars:
        return f"<p class='empty'>{NO_DATA}</p>"
    top = max(abs(v) for _, v in bars) or 1.0
    step = (HEIGHT - 2 * PAD) / len(bars)
    parts = []
    for n, (name, value) in enumerate(bars):
        y, width = PAD + n * step, abs(value) / top * (WIDTH - 220)
        parts.append(f'<rect x="160" y="{y:.1f}" width="{width:.1f}" height="{step * 0.7:.1f}" fill="{COLORS[0]}"/>')
        parts.append(
            f'<text x="155" y="{y + step * 0.55:.1f}" font-size="11" text-anchor="end">{html.escape(name)}</text>'
        )
        parts.append(f'<text x="{165 + width:.1f}" y="{y + step * 0.55:.1f}" font-size="11">{value:,.2f}</text>')
    return _svg(parts)


def stat(series: list[dict]) -> str:
    value = series[0]["values"][0][1] if series and series[0]["values"] else None
    return f"<p class='stat'>{value:,.2f}</p>" if isinstance(value, int | float) else f"<p class='empty'>{NO_DATA}</p>"


def table(series: list[dict], limit: int = 20) -> str:
    rows = [(s.get("tags") or {}, row) for s in series for row in s["values"]][:limit]
    if not rows:
        return f"<p class='empty'>{NO_DATA}</p>"
    columns = series[0]["columns"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(c, v))}</td>" for c, v in zip(columns, row, strict=True)) + "</tr>"
        for _, row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_panel(settings: InfluxSettings, panel: dict, macros: Macros) -> tuple[str, bool]:
    """The panel's HTML and whether every one of its queries returned data."""
    results = [influxql(settings, macros.apply(target["query"])) for target in panel["targets"]]
    if panel["type"] in ("stat", "table"):
        body = "".join((stat if panel["type"] == "stat" else table)(series) for series in results)
    else:  # the targets of a chart share its axes, as in Grafana
        body = (bar_chart if panel["type"] == "barchart" else line_chart)([s for series in results for s in series])
    title = html.escape(panel["title"])
    return f"<section><h3>{title}</h3>{body}</section>", all(results)


def write_dashboard_report(settings: InfluxSettings, out: Path, days: int = 30) -> dict[str, bool]:
    """Write the page; returns, per "dashboard: panel", whether it had data."""
    cost = cost_macros(settings, days)
    had_data: dict[str, bool] = {}
    boards = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        macros = HEALTH if board["uid"] == "spendstream-health" else cost
        panels = []
        for panel in board["panels"]:
            rendered, complete = render_panel(settings, panel, macros)
            panels.append(rendered)
            had_data[f"{board['title']}: {panel['title']}"] = complete
        boards.append(f"<h2>{html.escape(board['title'])}</h2><div class='grid'>{''.join(panels)}</div>")
    out.write_text(PAGE.format(made=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", boards="".join(boards)))
    return had_data


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>spendstream dashboards</title><style>
body{{font-family:sans-serif;margin:1.5em;background:#f9fafb}}
.grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(580px,1fr));gap:12px}}
section{{background:white;border:1px solid #e5e7eb;padding:8px}} h3{{font-size:14px;margin:0 0 6px}}
.stat{{font-size:40px;margin:20px}} .empty{{color:#dc2626}} .legend{{font-size:11px}}
table{{font-size:11px;border-collapse:collapse}} td,th{{border:1px solid #e5e7eb;padding:2px 4px}}
</style></head><body><h1>spendstream dashboards</h1><p>made {made} from InfluxDB</p>{boards}</body></html>
"""


def _x(t: float, t0: float, t1: float) -> float:
    return PAD + (t - t0) / ((t1 - t0) or 1) * (WIDTH - 2 * PAD)


def _y(v: float, low: float, high: float) -> float:
    return HEIGHT - PAD - (v - low) / ((high - low) or 1) * (HEIGHT - 2 * PAD)


def _svg(parts: list[str]) -> str:
    return f'<svg width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'


def _cell(column: str, value: object) -> str:
    if column == "time" and isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    return f"{value:,.2f}" if isinstance(value, float) else str(value)
