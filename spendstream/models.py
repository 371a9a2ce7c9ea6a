"""``spendstream models``: every model family the job runs, its version, the data it has seen and how it is doing live.

The live figures are what the stream itself recorded: forecast scores from InfluxDB measurement
``forecast_accuracy`` (every forecast, scored when its day arrived) and detection precision from
the verdicts people gave with ``spendstream alerts mark`` (of the marked anomaly alerts, the share
confirmed). Recall needs the anomalies nobody was alerted to, which no mark records: it is left
to ``spendstream backtest --labels``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.alert_labels import alert_labels
from connectors.influx_query import influxql
from pipelines.forecast import BUCKETS
from schemas import SchemaName, codec
from spendstream.config import Config


@dataclass(frozen=True)
class ModelFamily:
    """One row of ``spendstream models``."""

    name: str
    code: str
    version: str
    data: str  # the range of days it has learned or been scored on
    live: str  # its live figures, or why there are none yet


def state_version(name: SchemaName) -> str:
    """The state record's version: 1 + the earlier versions kept under schemas/history."""
    return f"{name.value} v{sum(1 for v in codec().versions() if v.name == name)}"


def model_families(config: Config) -> list[ModelFamily]:
    return [detection(config), *forecasts(config)]


def detection(config: Config) -> ModelFamily:
    marks = [label for label in alert_labels(config).values() if label["kind"] == "anomaly"]
    confirmed = sum(1 for label in marks if label["verdict"] == "confirmed")
    false_positives = sum(1 for label in marks if label["verdict"] == "false_positive")
    opened = first_value(config, "SELECT COUNT(score) FROM anomaly WHERE status = 'open'")
    if marks:
        live = f"precision {confirmed / (confirmed + false_positives):.2f} ({confirmed} confirmed, "
        live += f"{false_positives} false positives of {opened or 0} opened)"
    else:
        live = f"{opened or 0} anomalies opened, none marked yet (`spendstream alerts mark ALERT_ID --confirmed`)"
    return ModelFamily(
        "anomaly detection (hourly, account × service)",
        "pipelines/anomaly.py HourlyCostDetector",
        state_version(SchemaName.SERIES_MONITOR_STATE),
        day_range(config, "cost", "usd"),
        live,
    )


def forecasts(config: Config) -> list[ModelFamily]:
    """One row per horizon bucket: the account totals' live MAPE against seasonal naive, and coverage."""
    rows, scored_days = [], day_range(config, "forecast_accuracy", "covered")
    for low, high in BUCKETS:
        horizons = "|".join(str(h) for h in range(low, high + 1))
        where = f"WHERE service = '*' AND horizon =~ /^({horizons})$/"
        result = influxql(
            config.influx,
            f"SELECT COUNT(covered), MEAN(ape), MEAN(naive_ape), MEAN(covered) FROM forecast_accuracy {where}",
        )
        values = result[0]["values"][0][1:] if result else None
        if values and values[0]:
            scored, mape, naive, coverage = values
            live = (
                f"MAPE {figure(mape)} (seasonal naive {figure(naive)}), 80% interval covered {coverage:.2f}, "
                f"{scored} scored"
            )
        else:
            live = "no forecast of these horizons has reached its day yet"
        rows.append(
            ModelFamily(
                f"forecast, horizons {low}–{high} d (account totals)",
                "pipelines/forecast.py DailyCostForecaster + model_choice.py + weekly_trend.py, summed over services",
                state_version(SchemaName.ACCOUNT_MONITOR_STATE),
                scored_days,
                live,
            )
        )
    return rows


def figure(value: float | None) -> str:
    """A mean error, or a dash where no scored day had a cost (or, for naive, a same weekday seen before)."""
    return "—" if value is None else f"{value:.3f}"


def first_value(config: Config, query: str):
    result = influxql(config.influx, query)
    return result[0]["values"][0][1] if result else None


def day_range(config: Config, measurement: str, field: str) -> str:
    """First and last day of a measurement (its points' times), or that it has none yet."""
    first = influxql(config.influx, f'SELECT FIRST("{field}") FROM "{measurement}"')
    last = influxql(config.influx, f'SELECT LAST("{field}") FROM "{measurement}"')
    if not first or not last:
        return "no data yet"
    return f"{day_of(first[0]['values'][0][0])} – {day_of(last[0]['values'][0][0])}"


def day_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")
