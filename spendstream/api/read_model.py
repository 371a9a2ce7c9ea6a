"""What the API serves, read from InfluxDB as the sink wrote it: costs, forecasts, anomalies, advice.

Money is summed from the exact integer micro-dollar fields and returned as decimal strings, so a
breakdown adds up to its total to the micro-dollar. "Current" is as of the newest hour InfluxDB
holds for the account (the pipeline's event time), not the wall clock: a replayed bill reads the
same as a live one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from connectors.influx_query import DatabaseNotFoundError, influxql
from spendstream.config import InfluxSettings

ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
GROUPS = ("service", "region", "charge_type", "cost_center", "project", "environment", "team")
TOTAL_SERIES = "*"  # the forecaster's series for an account's total
HOUR = timedelta(hours=1)
MICRO = Decimal("0.000001")


class BadRequest(ValueError):
    """A request the API cannot answer as asked (HTTP 400); the message says what to send instead."""


class Unavailable(RuntimeError):
    """A source the answer needs cannot be read now (HTTP 503); the message says which."""


def money(micros: int | float | None) -> str:
    return str((Decimal(int(micros or 0)) * MICRO).quantize(MICRO))


def checked_account(account_id: str) -> str:
    if not ACCOUNT_ID.match(account_id):
        raise BadRequest("accountId must be 1–64 letters, digits or . _ : -")
    return account_id


def checked_groups(group_by: list[str]) -> list[str]:
    unknown = [g for g in group_by if g not in GROUPS]
    if unknown:
        raise BadRequest(f"cannot group by {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    return group_by


def _tags(group_by: list[str]) -> str:
    return ", ".join(f'"{g}"' for g in checked_groups(group_by))


def _where(account: str, filters: dict[str, str] | None) -> str:
    """The account, and each filter tag equal to its value."""
    filters = filters or {}
    checked_groups(list(filters))
    return " AND ".join(
        [f"\"account\" = '{checked_account(account)}'", *(f"\"{k}\" = '{_literal(v)}'" for k, v in filters.items())]
    )


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _query(influx: InfluxSettings, statement: str) -> list[dict]:
    try:
        return influxql(influx, statement)
    except DatabaseNotFoundError:
        return []  # nothing written yet reads as empty, not as an error


def _rows(series: list[dict]) -> list[dict]:
    """Every row of every series as a dict of its columns and its series' tags."""
    return [
        {**series_tags, **dict(zip(s["columns"], values, strict=True))}
        for s in series
        for series_tags in [s.get("tags") or {}]
        for values in s["values"]
    ]


@dataclass(frozen=True)
class CostLine:
    group: dict[str, str]
    usd: str


def cost_breakdown(
    influx: InfluxSettings,
    account: str,
    start: datetime,
    end: datetime,
    group_by: list[str],
    filters: dict[str, str] | None = None,
) -> list[CostLine]:
    """Cost of [start, end) per combination of ``group_by`` tags (none: one line, the total).

    Only lines whose tags equal ``filters`` count.
    """
    grouping = f" GROUP BY {_tags(group_by)}" if group_by else ""
    series = _query(
        influx,
        f'SELECT SUM("usd_micros") AS micros FROM "cost" WHERE {_where(account, filters)} '
        f"AND time >= '{_time(start)}' AND time < '{_time(end)}'{grouping}",
    )
    lines = [CostLine({g: row.get(g, "") for g in group_by}, money(row["micros"])) for row in _rows(series)]
    return sorted(lines, key=lambda line: (-Decimal(line.usd), sorted(line.group.items())))


def daily_costs(
    influx: InfluxSettings, account: str, start: datetime, end: datetime, group_by: list[str]
) -> list[tuple[date, CostLine]]:
    """Cost per UTC day of [start, end), per ``group_by`` combination; days without cost are left out."""
    tags = f", {_tags(group_by)}" if group_by else ""
    series = _query(
        influx,
        f'SELECT SUM("usd_micros") AS micros FROM "cost" WHERE {_where(account, {})} '
        f"AND time >= '{_time(start)}' AND time < '{_time(end)}' GROUP BY time(1d){tags} fill(none)",
    )
    days = [(_at(row["time"]).date(), CostLine({g: row.get(g, "") for g in group_by}, money(row["micros"])))
            for row in _rows(series)]  # fmt: skip
    return sorted(days, key=lambda item: (item[0], sorted(item[1].group.items())))


@dataclass(frozen=True)
class UnitDay:
    day: date
    usd: str
    direct_usd: str
    allocated_usd: str


def unit_costs(
    influx: InfluxSettings, account: str, dimension: str, unit: str | None, start: datetime, end: datetime
) -> dict[str, list[UnitDay]]:
    """Cost per UTC day of [start, end) of each customer or feature (or of ``unit`` alone), shared cost allocated."""
    if dimension not in ("customer", "feature"):
        raise BadRequest("dimension must be customer or feature")
    chosen = f" AND \"{dimension}\" = '{_literal(unit)}'" if unit is not None else ""
    series = _query(
        influx,
        f'SELECT SUM("usd_micros") AS micros, SUM("direct_micros") AS direct, SUM("allocated_micros") AS allocated '
        f'FROM "cost_by_{dimension}" WHERE {_where(account, {})}{chosen} '
        f"AND time >= '{_time(start)}' AND time < '{_time(end)}' GROUP BY time(1d), \"{dimension}\" fill(none)",
    )
    found: dict[str, list[UnitDay]] = {}
    for row in _rows(series):
        day = UnitDay(_at(row["time"]).date(), money(row["micros"]), money(row["direct"]), money(row["allocated"]))
        found.setdefault(row[dimension], []).append(day)
    return {name: sorted(days, key=lambda d: d.day) for name, days in sorted(found.items())}


def latest_hour(influx: InfluxSettings, account: str) -> datetime | None:
    """Start of the newest hour of cost InfluxDB holds for the account."""
    series = _query(influx, f'SELECT LAST("usd_micros") FROM "cost" WHERE "account" = \'{checked_account(account)}\'')
    rows = _rows(series)
    return _at(rows[0]["time"]) if rows else None


@dataclass(frozen=True)
class DailyForecast:
    day: date
    predicted_usd: float
    lower_usd: float  # the 80% interval
    upper_usd: float
    made_at: str


def forecasts(influx: InfluxSettings, account: str, first: date, days: int, service: str = TOTAL_SERIES) -> list:
    """The newest forecast of each day in [first, first + days) for one series (default: the account total)."""
    if not 1 <= days <= 366:
        raise BadRequest("timeframe must be 1–366 days")
    start = datetime.combine(first, datetime.min.time(), UTC)
    series = _query(
        influx,
        'SELECT "predicted_usd", "lower_usd", "upper_usd", "made_at" FROM "forecast" '
        f"WHERE \"account\" = '{checked_account(account)}' AND \"service\" = '{_literal(service)}' "
        f"AND time >= '{_time(start)}' AND time < '{_time(start + timedelta(days=days))}'",
    )
    return [
        DailyForecast(_at(r["time"]).date(), r["predicted_usd"], r["lower_usd"], r["upper_usd"], r["made_at"])
        for r in _rows(series)
    ]


@dataclass(frozen=True)
class Driver:
    service: str
    forecast_usd: float  # the service's forecast over the timeframe
    recent_usd: float  # what it cost over as many days just before
    change_usd: float


def forecast_drivers(influx: InfluxSettings, account: str, first: date, days: int, top: int = 3) -> list[Driver]:
    """The services that move the forecast most: forecast over the timeframe against as many recent days."""
    start = datetime.combine(first, datetime.min.time(), UTC)
    series = _query(
        influx,
        f'SELECT SUM("predicted_usd") AS predicted FROM "forecast" WHERE "account" = \'{checked_account(account)}\' '
        f"AND \"service\" != '{TOTAL_SERIES}' AND time >= '{_time(start)}' "
        f"AND time < '{_time(start + timedelta(days=days))}' GROUP BY \"service\"",
    )
    predicted = {row["service"]: row["predicted"] for row in _rows(series)}
    recent = {
        line.group["service"]: float(line.usd)
        for line in cost_breakdown(influx, account, start - timedelta(days=days), start, ["service"])
    }
    drivers = [
        Driver(s, predicted.get(s, 0.0), recent.get(s, 0.0), predicted.get(s, 0.0) - recent.get(s, 0.0))
        for s in set(predicted) | set(recent)
    ]
    return sorted(drivers, key=lambda d: (-abs(d.change_usd), d.service))[:top]


@dataclass(frozen=True)
class CurrentCosts:
    day_start: datetime  # the UTC day "today" is: the newest hour's
    as_of: datetime  # end of the newest hour held
    today_usd: str
    today_by_service: list[CostLine]
    same_hours_yesterday_usd: str
    month_to_date_usd: str
    month_end_projection_usd: str


def current_costs(influx: InfluxSettings, account: str) -> CurrentCosts | None:
    """Today so far (UTC, as of the newest hour held), by service, against yesterday's same hours.

    The month-end projection is month to date + the rest of today and every later day of the
    month as the account's total forecast sees them.
    """
    newest = latest_hour(influx, account)
    if newest is None:
        return None
    as_of = newest + HOUR
    day_start = datetime.combine((as_of - HOUR).date(), datetime.min.time(), UTC)
    by_service = cost_breakdown(influx, account, day_start, as_of, ["service"])
    today = sum((Decimal(line.usd) for line in by_service), Decimal(0))
    yesterday = cost_breakdown(influx, account, day_start - timedelta(days=1), as_of - timedelta(days=1), [])
    month_start = day_start.replace(day=1)
    (month,) = cost_breakdown(influx, account, month_start, as_of, []) or [CostLine({}, money(0))]
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    remaining_days = (next_month - day_start).days
    ahead = {f.day: f.predicted_usd for f in forecasts(influx, account, day_start.date(), remaining_days)}
    hours_left = (day_start + timedelta(days=1) - as_of) / HOUR
    rest = ahead.get(day_start.date(), 0.0) * hours_left / 24 + sum(
        usd for day, usd in ahead.items() if day > day_start.date()
    )
    projection = Decimal(month.usd) + Decimal(str(round(rest, 6)))
    return CurrentCosts(
        day_start=day_start,
        as_of=as_of,
        today_usd=str(today.quantize(MICRO)),
        today_by_service=by_service,
        same_hours_yesterday_usd=yesterday[0].usd if yesterday else money(0),
        month_to_date_usd=month.usd,
        month_end_projection_usd=str(projection.quantize(MICRO)),
    )


@dataclass(frozen=True)
class Anomaly:
    at: datetime
    cursor: str  # pass as ``before`` for the next (older) page
    service: str
    status: str
    severity: str
    actual_usd: float
    expected_usd: float
    score: float
    episode_id: str
    reasons: str


def anomalies(influx: InfluxSettings, account: str, limit: int, before: str | None = None) -> list[Anomaly]:
    """The newest anomaly messages first; page on with ``before`` = the last one's ``cursor``."""
    if before is not None and not before.isdigit():
        raise BadRequest("before must be the cursor of an anomaly from a previous page")
    older = f" AND time < {int(before)}ms" if before is not None else ""
    series = _query(
        influx,
        'SELECT "actual_usd", "expected_usd", "score", "episode_id", "reasons", "service", "status", '
        f'"severity" FROM "anomaly" WHERE "account" = \'{checked_account(account)}\'{older} '
        f"ORDER BY time DESC LIMIT {int(limit)}",
    )
    return [
        Anomaly(
            _at(r["time"]), str(r["time"]), r["service"], r["status"], r["severity"], r["actual_usd"],
            r["expected_usd"], r["score"], r["episode_id"], r["reasons"],
        )
        for r in _rows(series)
    ]  # fmt: skip


@dataclass(frozen=True)
class OpenRecommendation:
    recommendation_id: str
    type: str
    risk_level: str
    resource_id: str
    current_type: str
    recommended_type: str
    potential_savings_usd: str  # monthly
    savings_p10_usd: float
    savings_p90_usd: float
    current_monthly_usd: float
    projected_monthly_usd: float
    description: str
    as_of: datetime


def open_recommendations(influx: InfluxSettings, account: str) -> list[OpenRecommendation]:
    """The advice open on the newest day the optimizer refreshed the account, largest saving first."""
    where = f"\"account\" = '{checked_account(account)}'"
    newest = _rows(_query(influx, f'SELECT LAST("savings_micros") FROM "recommendation" WHERE {where}'))
    if not newest:
        return []
    series = _query(
        influx,
        f'SELECT * FROM "recommendation" WHERE {where} AND "status" = \'open\' AND time = {newest[0]["time"]}ms',
    )
    found = [
        OpenRecommendation(
            r["recommendation_id"], r["type"], r["risk_level"], r["resource_id"], r["current_type"],
            r["recommended_type"], money(r["savings_micros"]), r["savings_p10_usd"], r["savings_p90_usd"],
            r["current_monthly_usd"], r["projected_monthly_usd"], r["description"], _at(r["time"]),
        )
        for r in _rows(series)
    ]  # fmt: skip
    return sorted(found, key=lambda r: (-Decimal(r.potential_savings_usd), r.recommendation_id))


def _literal(text: str) -> str:
    """A string inside single quotes in InfluxQL."""
    return text.replace("\\", "\\\\").replace("'", "\\'")
