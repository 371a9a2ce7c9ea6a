"""The backtest's report.html: metrics, each alerted series with its expectation and alerts, forecasts.

Plain HTML with inline SVG, so it opens anywhere without a plotting stack or network access.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

from pipelines.evaluation import Label
from pipelines.spend_monitor import History

WIDTH, HEIGHT, PAD = 900, 180, 30
MAX_SERIES = 24


def _scale(values: list[float], span: tuple[float, float], size: float, flip: bool = False) -> list[float]:
    low, high = span
    width = (high - low) or 1.0
    return [
        (size - PAD - (v - low) / width * (size - 2 * PAD)) if flip else PAD + (v - low) / width * (size - 2 * PAD)
        for v in values
    ]


def _polyline(xs: list[float], ys: list[float], style: str) -> str:
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    return f'<polyline fill="none" points="{points}" style="{style}"/>'


def series_chart(trace: list[tuple[int, float, float | None]], alerts: list[int], labels: list[Label]) -> str:
    """Hourly actual (blue), expected (grey) and alert opens (red), labelled windows shaded."""
    times = [t for t, _, _ in trace]
    top = max(max(a, e or 0) for _, a, e in trace) or 1.0
    xs = _scale(times, (times[0], times[-1]), WIDTH)
    parts = []
    for label in labels:
        x0, x1 = _scale([label.start.timestamp() * 1000, label.end.timestamp() * 1000], (times[0], times[-1]), WIDTH)
        parts.append(
            f'<rect x="{x0:.1f}" y="{PAD}" width="{max(x1 - x0, 2):.1f}" height="{HEIGHT - 2 * PAD}" fill="#fde68a"/>'
        )
    expected = [(x, e) for x, (_, _, e) in zip(xs, trace, strict=True) if e is not None]
    if expected:
        parts.append(
            _polyline(
                [x for x, _ in expected], _scale([e for _, e in expected], (0, top), HEIGHT, True), "stroke:#9ca3af"
            )
        )
    parts.append(
        _polyline(xs, _scale([a for _, a, _ in trace], (0, top), HEIGHT, True), "stroke:#2563eb;stroke-width:0.8")
    )
    for ms in alerts:
        (x,) = _scale([ms], (times[0], times[-1]), WIDTH)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD}" y2="{HEIGHT - PAD}" stroke="#dc2626" stroke-width="2"/>'
        )
    parts.append(f'<text x="{PAD}" y="15" font-size="11">max ${top:,.2f}/h</text>')
    return f'<svg width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'


def forecast_chart(actual: dict[date, float], forecasts: list[tuple[date, date, float, float, float]]) -> str:
    """Daily actual (blue) and forecasts made every 14 days (orange) with their 80% band."""
    days = sorted(actual)
    if not days:
        return ""
    first, last = days[0].toordinal(), max([d for _, d, *_ in forecasts] + days).toordinal()
    top = max(list(actual.values()) + [u for *_, u in forecasts]) or 1.0
    parts = []
    by_cutoff: dict[date, list] = defaultdict(list)
    for made, day, predicted, lower, upper in forecasts:
        by_cutoff[made].append((day, predicted, lower, upper))
    for made in sorted(by_cutoff)[::14]:
        rows = sorted(by_cutoff[made])
        xs = _scale([d.toordinal() for d, *_ in rows], (first, last), WIDTH)
        band = _scale([u for *_, u in rows], (0, top), HEIGHT, True) + _scale(
            [lo for *_, lo, _ in rows][::-1], (0, top), HEIGHT, True
        )
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs + xs[::-1], band, strict=True))
        parts.append(f'<polygon points="{points}" fill="#fed7aa" opacity="0.6"/>')
        parts.append(_polyline(xs, _scale([p for _, p, _, _ in rows], (0, top), HEIGHT, True), "stroke:#ea580c"))
    xs = _scale([d.toordinal() for d in days], (first, last), WIDTH)
    parts.append(_polyline(xs, _scale([actual[d] for d in days], (0, top), HEIGHT, True), "stroke:#2563eb"))
    parts.append(f'<text x="{PAD}" y="15" font-size="11">max ${top:,.2f}/day</text>')
    return f'<svg width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'


def write_report(path: Path, history: History, metrics: dict, labels: list[Label]) -> None:
    opened = defaultdict(list)
    for alert in history.anomalies:
        if alert.status == "open":
            opened[(alert.account_id, alert.service)].append(alert.window_start_ms)
    labelled = defaultdict(list)
    for label in labels:
        labelled[(label.account_id, label.service)].append(label)
    sections = [
        "<h1>spendstream backtest</h1>",
        f"<pre>{html.escape(json.dumps(metrics, indent=2, default=str))}</pre>",
    ]
    sections.append("<h2>Alerted or labelled series</h2>")
    keys = sorted(set(opened) | set(labelled))[:MAX_SERIES]
    for key in keys:
        trace = history.traces.get(key)
        if trace:
            title = f"{key[0]} · {key[1]} — {len(opened[key])} alert(s), {len(labelled[key])} labelled anomaly(ies)"
            sections.append(f"<h3>{html.escape(title)}</h3>{series_chart(trace, opened[key], labelled[key])}")
    sections.append("<h2>Account forecasts (service *) against actuals</h2>")
    actual: dict[str, dict[date, float]] = defaultdict(dict)
    for (account, _), trace in history.traces.items():
        for ms, cost, _ in trace:
            day = datetime.fromtimestamp(ms / 1000, UTC).date()
            actual[account][day] = actual[account].get(day, 0.0) + cost
    for account in sorted(actual):
        points = [
            (f.made_at, f.day, f.predicted, f.lower, f.upper)
            for f in history.forecasts
            if f.account_id == account and f.service == "*"
        ]
        sections.append(f"<h3>{html.escape(account)}</h3>{forecast_chart(actual[account], points)}")
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>spendstream backtest</title>"
        "<style>body{font-family:sans-serif;margin:2em}svg{border:1px solid #e5e7eb;display:block}</style>"
        f"</head><body>{''.join(sections)}</body></html>"
    )
