"""Anomaly detection and forecasts in the cost aggregation job: river models in Flink keyed state.

Native SQL builds the series (hourly usage cost per account × service × region and daily cost per
account × service, both rolled up from the cost job's ``hours`` view; the top three resources of
each hour by window Top-N over the ``costs`` events); Python runs only on those aggregates, in two
keyed process functions whose state is the monitor of pipelines/spend_monitor.py as its plain
Avro state record, checkpointed with the job. An event-time timer at the end of each window's
hour (day) hands the finished hour (day) to the monitor, so every key sees its hours
and days in order, as ``spendstream backtest`` does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

from pyflink.common import Row, Types
from pyflink.datastream import DataStream, KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor
from pyflink.table import StreamTableEnvironment, Table

from jobs.enrichment_sql import PYTHON_SETTINGS, with_settings_sql
from pipelines.account_settings import ChangedAccounts
from pipelines.enrichment import AccountDirectory
from pipelines.forecast import QUARTERS
from pipelines.spend_monitor import (
    AccountMonitor,
    AnomalyAlert,
    DayOfSpend,
    ForecastPoint,
    HourOfSpend,
    ProjectedOverspend,
    SeriesMonitor,
    day_of,
    stable_id,
)
from schemas import SchemaName, codec

OUTPUT = Types.ROW_NAMED(
    ["role", "k", "v"], [Types.STRING(), Types.PRIMITIVE_ARRAY(Types.BYTE()), Types.PRIMITIVE_ARRAY(Types.BYTE())]
)
# Window starts as epoch milliseconds, computed natively (whole minutes: windows start on the hour).
EPOCH_MS = "CAST(TIMESTAMPDIFF(MINUTE, TIMESTAMP '1970-01-01 00:00:00', window_start) AS BIGINT) * 60000"
SERIES_SQL = f"""
SELECT 'region' AS part, account_id, service, {EPOCH_MS} AS start_ms, window_time, region AS name,
  CAST(cost AS STRING) AS cost
FROM (
  SELECT window_start, window_end, window_time, account_id, service, region, SUM(unblended_cost) AS cost
  FROM TABLE(TUMBLE(TABLE hours, DESCRIPTOR(hour_time), INTERVAL '1' HOUR))
  WHERE charge_type = 'usage'
  GROUP BY window_start, window_end, window_time, account_id, service, region)
UNION ALL
SELECT 'resource', account_id, service, {EPOCH_MS}, window_time, resource_id, CAST(cost AS STRING)
FROM (
  SELECT *, ROW_NUMBER() OVER (
    PARTITION BY window_start, window_end, account_id, service ORDER BY cost DESC, resource_id) AS rank_in_hour
  FROM (
    SELECT window_start, window_end, window_time, account_id, service,
      COALESCE(NULLIF(resource_id, ''), '(no resource id)') AS resource_id, SUM(unblended_cost) AS cost
    FROM TABLE(TUMBLE(TABLE costs, DESCRIPTOR(event_time), INTERVAL '1' HOUR))
    WHERE charge_type = 'usage'
    GROUP BY window_start, window_end, window_time, account_id, service,
      COALESCE(NULLIF(resource_id, ''), '(no resource id)')))
WHERE rank_in_hour <= 3
"""
# A day's usage per six-hour quarter (UTC: the job's session time zone) tells its forecaster a
# step that held all day from a spike (pipelines/forecast.py); hour_time is its hour's last moment.
QUARTER_USAGE = ",\n  ".join(
    f"CAST(SUM(CASE WHEN charge_type = 'usage' AND HOUR(CAST(hour_time AS TIMESTAMP(3))) / 6 = {quarter} "
    f"THEN unblended_cost ELSE 0 END) AS STRING) AS usage_q{quarter}"
    for quarter in range(QUARTERS)
)
DAILY_SQL = f"""
SELECT account_id, service, {EPOCH_MS} AS start_ms, window_time,
  CAST(SUM(CASE WHEN charge_type = 'usage' THEN unblended_cost ELSE 0 END) AS STRING) AS usage_cost,
  CAST(SUM(unblended_cost) AS STRING) AS total_cost,
  {QUARTER_USAGE}
FROM TABLE(TUMBLE(TABLE hours, DESCRIPTOR(hour_time), INTERVAL '1' DAY))
GROUP BY window_start, window_end, window_time, account_id, service
"""


class FinishedWindows(KeyedProcessFunction):
    """Buffers each window's rows in keyed state; its end hands the finished window to the monitor.

    The event-time timer at the window's end fires after every row of that window has arrived, so
    each key's monitor sees its windows complete and in order, as ``backtest`` feeds them. Both
    states are plain data: the monitor as its Avro state record (schemas/*_monitor_state.avsc),
    the buffered rows as JSON strings in list state (appending a row costs one state call;
    rewriting one value of every buffered row cost a read, a parse, a dump and a write), so a
    checkpoint holds numbers and names, never code. The record is kept base64 in a STRING state:
    PyFlink's byte-array state converts a value byte by byte into a tuple and fails on a key with
    no state yet.
    """

    window_ms: int
    state_name: str
    state_schema: SchemaName
    row_fields: tuple[str, ...]  # the row's fields a window buffers (strings)

    def __init__(self, directory: AccountDirectory) -> None:
        self.accounts = ChangedAccounts(directory)

    def open(self, runtime_context: RuntimeContext) -> None:
        self.monitor = runtime_context.get_state(ValueStateDescriptor(f"{self.state_name}-model", Types.STRING()))
        self.pending = runtime_context.get_list_state(ListStateDescriptor(f"{self.state_name}-rows", Types.STRING()))
        # what a job before the list state buffered: read once, at the key's next window end
        self.pending_before = runtime_context.get_state(
            ValueStateDescriptor(f"{self.state_name}-windows", Types.STRING())
        )
        # the account's settings as the latest row carried them: [version, entry], or none
        self.settings = runtime_context.get_state(ValueStateDescriptor(f"{self.state_name}-settings", Types.STRING()))
        metrics = runtime_context.get_metrics_group().add_group("spendstream")
        self.models = metrics.counter(f"{self.state_name}_models")
        roles = ("anomaly", "alert", "forecast", "forecast_accuracy")
        self.emitted = {role: metrics.counter(f"{role}_records") for role in roles}

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context):
        self.pending.add(json.dumps([row.start_ms, *(getattr(row, name) for name in self.row_fields)]))
        if row.settings_version is not None:
            self.settings.update(json.dumps([row.settings_version, row.settings_entry]))
        ctx.timer_service().register_event_time_timer(row.start_ms + self.window_ms - 1)
        return iter(())

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        windows = self.buffered_windows()
        key = ctx.get_current_key()
        directory = self.accounts.directory(key.split("|", 1)[0], *json.loads(self.settings.value() or "[null, null]"))
        saved = self.monitor.value()
        if saved is None:
            monitor = self.new_monitor(key, directory)
            self.models.inc()
        else:
            monitor = self.restore(loaded_state(saved, self.state_schema), directory)
        for start in sorted(start for start in windows if start <= timestamp):
            for row in self.finish(monitor, start, windows.pop(start), directory):
                self.emitted[row[0]].inc()  # (role, k, v)
                yield row
        self.monitor.update(stored_state(self.state_schema, monitor.state()))
        self.pending.update([json.dumps([start, *fields]) for start, rows in windows.items() for fields in rows])

    def buffered_windows(self) -> dict[int, list[list[str]]]:
        """The buffered rows by window start, each window's in arrival order."""
        windows: dict[int, list[list[str]]] = {}
        if (before := self.pending_before.value()) is not None:
            for start, rows in json.loads(before).items():
                windows[int(start)] = rows
            self.pending_before.clear()
        for text in self.pending.get() or ():
            start, *fields = json.loads(text)
            windows.setdefault(start, []).append(fields)
        return windows

    def new_monitor(self, key: str, directory: AccountDirectory):
        raise NotImplementedError

    def restore(self, state: dict, directory: AccountDirectory):
        """The monitor a state record describes, with the account's settings as they stand."""
        raise NotImplementedError

    def finish(self, monitor, start_ms: int, rows: list[list[str]], directory: AccountDirectory) -> Iterator[Row]:
        raise NotImplementedError


def stored_state(schema: SchemaName, state: dict) -> str:
    """A monitor's state as the job keeps it: its Avro state record, base64 (see FinishedWindows)."""
    return base64.b64encode(codec().encode(schema, state)).decode()


def loaded_state(stored: str, schema: SchemaName) -> dict:
    return codec().decode(base64.b64decode(stored), schema)


class HourlyAnomalies(FinishedWindows):
    """Keyed by account × service: an hour's usage per region and top resources → anomaly episodes."""

    window_ms, state_name, state_schema = 3_600_000, "series", SchemaName.SERIES_MONITOR_STATE
    row_fields = ("part", "name", "cost")

    def new_monitor(self, key: str, directory: AccountDirectory) -> SeriesMonitor:
        account, service = key.split("|", 1)
        return SeriesMonitor(account, service, directory.anomaly_settings(account, service))

    def restore(self, state: dict, directory: AccountDirectory) -> SeriesMonitor:
        return SeriesMonitor.from_state(state, directory.anomaly_settings(state["account_id"], state["service"]))

    def finish(
        self, monitor: SeriesMonitor, start_ms: int, rows: list[list[str]], directory: AccountDirectory
    ) -> Iterator[Row]:
        parts: dict[str, dict[str, Decimal]] = {"region": {}, "resource": {}}
        for part, name, cost in rows:
            parts[part][name] = Decimal(cost)
        resources = tuple(sorted(parts["resource"].items(), key=lambda item: (-item[1], item[0])))
        spend = HourOfSpend(monitor.account_id, monitor.service, start_ms, parts["region"], resources)
        for alert in monitor.observe(spend):
            yield from anomaly_rows(alert, directory)


class DailyForecasts(FinishedWindows):
    """Keyed by account: a day's usage per service and total cost → forecasts, month-end projection."""

    window_ms, state_name, state_schema = 86_400_000, "account", SchemaName.ACCOUNT_MONITOR_STATE
    row_fields = ("service", "usage_cost", "total_cost", *(f"usage_q{quarter}" for quarter in range(QUARTERS)))

    def new_monitor(self, key: str, directory: AccountDirectory) -> AccountMonitor:
        return AccountMonitor(key, directory.monthly_budget(key))

    def restore(self, state: dict, directory: AccountDirectory) -> AccountMonitor:
        return AccountMonitor.from_state(state, directory.monthly_budget(state["account_id"]))

    def finish(
        self, monitor: AccountMonitor, start_ms: int, rows: list[list[str]], directory: AccountDirectory
    ) -> Iterator[Row]:
        usage: dict[str, Decimal] = {}
        quarters: dict[str, list[Decimal]] = {}
        for service, usage_cost, _, *by_quarter in rows:  # rows buffered by a job before quarters have none
            usage[service] = usage.get(service, Decimal(0)) + Decimal(usage_cost)
            if by_quarter:
                summed = quarters.setdefault(service, [Decimal(0)] * QUARTERS)
                summed[:] = [before + Decimal(cost) for before, cost in zip(summed, by_quarter, strict=True)]
        total = sum((Decimal(total_cost) for _, _, total_cost, *_ in rows), Decimal(0))
        usage = {service: cost for service, cost in usage.items() if cost}
        known = {service: tuple(quarters[service]) for service in usage if service in quarters}
        outcome = monitor.observe(DayOfSpend(monitor.account_id, day_of(start_ms), usage, total, known))
        yield from (forecast_row(point) for point in outcome.forecasts)
        yield from (overspend_row(alert, directory) for alert in outcome.overspends)
        for scored in outcome.accuracy:
            record = codec().encode(SchemaName.FORECAST_ACCURACY, scored.record())
            yield Row("forecast_accuracy", scored.account_id.encode(), record)


def anomaly_rows(alert: AnomalyAlert, directory: AccountDirectory) -> Iterator[Row]:
    """The episode message on the anomaly topic, and as an alert on the alert topic."""
    name = directory.account_name(alert.account_id)
    record = {
        "alert_id": alert.alert_id,
        "episode_id": alert.episode_id,
        "status": alert.status,
        "account_id": alert.account_id,
        "account_name": name,
        "service": alert.service,
        "window_start_ms": alert.window_start_ms,
        "window_end_ms": alert.window_end_ms,
        "actual_cost": f"{alert.actual_cost:.6f}",
        "expected_cost": f"{alert.expected_cost:.6f}",
        "score": alert.score,
        "severity": alert.severity,
        "history_days": alert.history_days,
        "reasons": list(alert.reasons),
        "top_resources": [{"resource_id": rid, "cost": cost} for rid, cost in alert.top_resources],
    }
    key = alert.episode_id.encode()
    yield Row("anomaly", key, codec().encode(SchemaName.ANOMALY, record))
    yield Row("alert", key, codec().encode(SchemaName.ALERT, anomaly_alert(record, alert)))


def anomaly_alert(record: dict, alert: AnomalyAlert) -> dict:
    name = record["account_name"]
    start = datetime.fromtimestamp(alert.window_start_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    short = "" if alert.history_days >= 14 else f" (judged on {alert.history_days:.0f} days of history)"
    resources = ", ".join(f"{rid} {cost}" for rid, cost in alert.top_resources) or "n/a"
    actual, expected = f"{alert.actual_cost:,.2f}", f"{alert.expected_cost:,.2f}"
    if alert.status == "close":
        title = f"{name} {alert.service}: spend back to normal"
        message = (
            f"{alert.service} in {name} ({alert.account_id}) is back to normal; the episode began {start} and "
            f"peaked at {actual} an hour against {expected} expected."
        )
    else:
        title = f"{name} {alert.service}: {'unusual spend' if alert.status == 'open' else 'unusual spend continues'}"
        message = (
            f"{alert.service} in {name} ({alert.account_id}) cost {actual} in the hour from {start}, "
            f"expected {expected}{short}: {'; '.join(alert.reasons)}. Top resources: {resources}."
        )
    return {
        "alert_id": alert.alert_id,
        "kind": "anomaly",
        "severity": alert.severity,
        "account_id": alert.account_id,
        "account_name": name,
        "service": alert.service,
        "window_start_ms": alert.window_start_ms,
        "window_end_ms": alert.window_end_ms,
        "title": title,
        "message": message,
        "details": {
            "status": alert.status,
            "episode_id": alert.episode_id,
            "actual": record["actual_cost"],
            "expected": record["expected_cost"],
            "score": str(alert.score),
            "history_days": str(alert.history_days),
            "reasons": "; ".join(alert.reasons),
            "top_resources": json.dumps(record["top_resources"]),
        },
    }


def forecast_row(point: ForecastPoint) -> Row:
    forecast_id = stable_id("forecast", point.account_id, point.service, point.made_at, point.day)
    record = {
        "forecast_id": forecast_id,
        "account_id": point.account_id,
        "service": point.service,
        "made_at": point.made_at.isoformat(),
        "date": point.day.isoformat(),
        "predicted_cost": f"{point.predicted:.6f}",
        "lower": f"{point.lower:.6f}",
        "upper": f"{point.upper:.6f}",
    }
    return Row("forecast", point.account_id.encode(), codec().encode(SchemaName.FORECAST, record))


def overspend_row(alert: ProjectedOverspend, directory: AccountDirectory) -> Row:
    name = directory.account_name(alert.account_id)
    drivers = ", ".join(f"{service} +{delta}" for service, delta in alert.drivers) or "no single service"
    record = {
        "alert_id": alert.alert_id,
        "kind": "projected_overspend",
        "severity": "warning",
        "account_id": alert.account_id,
        "account_name": name,
        "service": "*",
        "window_start_ms": epoch_ms_of(date.fromisoformat(f"{alert.month}-01")),
        "window_end_ms": epoch_ms_of(alert.made_at) + 86_400_000,
        "title": f"{name}: projected to exceed its {alert.month} budget",
        "message": (
            f"{name} ({alert.account_id}) has spent {alert.month_to_date} of its {alert.budget} budget for "
            f"{alert.month}; the month-end projection is {alert.projected}. Driven by: {drivers}."
        ),
        "details": {
            "month": alert.month,
            "budget": str(alert.budget),
            "month_to_date": str(alert.month_to_date),
            "projected": str(alert.projected),
            "drivers": json.dumps([[service, str(delta)] for service, delta in alert.drivers]),
        },
    }
    return Row("alert", alert.alert_id.encode(), codec().encode(SchemaName.ALERT, record))


def epoch_ms_of(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def in_context(t_env: StreamTableEnvironment, name: str, query: str) -> Table:
    """``query``'s rows with their account's settings as they stand when each is processed."""
    t_env.create_temporary_view(name, t_env.sql_query(query))
    columns = tuple(t_env.from_path(name).get_schema().get_field_names())
    t_env.create_temporary_view(f"{name}_now", t_env.sql_query(f"SELECT *, PROCTIME() AS proc_time FROM {name}"))
    return t_env.sql_query(with_settings_sql(f"{name}_now", columns, PYTHON_SETTINGS))


def build_analytics(t_env: StreamTableEnvironment, directory: AccountDirectory) -> Table:
    """Anomaly, forecast and alert rows (role, k, v) from the ``costs`` and ``hours`` views."""
    series = t_env.to_data_stream(in_context(t_env, "series", SERIES_SQL))
    daily = t_env.to_data_stream(in_context(t_env, "daily_spend", DAILY_SQL))
    anomalies: DataStream = (
        series.key_by(lambda row: f"{row.account_id}|{row.service}", key_type=Types.STRING())
        .process(HourlyAnomalies(directory), output_type=OUTPUT)
        .uid("hourly-anomalies")
        .name("anomaly detection (river, keyed by account x service)")
    )
    forecasts: DataStream = (
        daily.key_by(lambda row: row.account_id, key_type=Types.STRING())
        .process(DailyForecasts(directory), output_type=OUTPUT)
        .uid("daily-forecasts")
        .name("forecasts and month-end projection (keyed by account)")
    )
    return t_env.from_data_stream(anomalies.union(forecasts))
