"""A labelled CUR 2.0 bill to measure anomaly detection and forecasts on.

Several accounts, hourly series with daily and weekly seasonality, trends and noise, small-dollar
series; anomalies of the kinds users meet (short spikes, slow leaks, lasting level shifts, spend
in a new region) with their windows as labels; and legitimate patterns that must not alert
(weekly batch bursts, month-start runs, monthly fees, taxes and credits). Rows are shuffled as
in real exports.

    python -m bench.labelled_cur --out DIR [--days 120] [--seed 1] [--varied]

writes ``DIR/data/BILLING_PERIOD=YYYY-MM/labelled-00001.csv.gz`` and ``DIR/labels.json``.

The default bill is the fixed set of series below, the one the analytics were developed on.
``--varied`` draws the bill's character from the seed instead (``varied_series``): accounts,
services, levels from cents to hundreds of dollars an hour, noise, weekends, trends, daily cycle or
none, batch work, resources per series, so quality is measured across bills, not on one.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

START = datetime(2026, 5, 25, tzinfo=UTC)
PAYER = "900000000001"
ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class Series:
    account: str
    service: str
    region: str
    base: float  # $/h
    noise: float
    trend_per_day: float = 0.0
    weekly_burst: bool = False
    month_start_run: bool = False
    weekend: float = 0.75  # weekend cost ÷ weekday cost
    diurnal: float = 0.35  # amplitude of the daily cycle (0: flat)
    resources: int = 3
    events: list[dict] = field(default_factory=list)  # anomalies: kind, start, hours, size


SERIES = [
    Series("111111111111", "AmazonEC2", "us-east-1", 40.0, 0.06, 0.002),
    Series("111111111111", "AmazonRDS", "us-east-1", 12.0, 0.05, weekly_burst=True),
    Series("111111111111", "AmazonS3", "us-east-1", 3.0, 0.04, 0.003),
    Series("222222222222", "AmazonEC2", "eu-west-1", 120.0, 0.05, 0.001, month_start_run=True),
    Series("222222222222", "AWSLambda", "eu-west-1", 6.0, 0.12),
    Series("222222222222", "AmazonDynamoDB", "eu-west-1", 0.4, 0.25),  # small dollars: never material
    Series("333333333333", "AmazonEC2", "us-west-2", 25.0, 0.08, -0.001, weekly_burst=True),
    Series("333333333333", "AmazonSageMaker", "us-west-2", 60.0, 0.07, month_start_run=True),
    Series("444444444444", "AmazonEC2", "ap-southeast-2", 8.0, 0.1, 0.004),
    Series("444444444444", "AmazonCloudFront", "us-east-1", 5.0, 0.09),
]
KINDS = ("spike", "leak", "level_shift", "new_region")
SERVICES = (
    "AmazonEC2", "AmazonRDS", "AmazonS3", "AWSLambda", "AmazonDynamoDB", "AmazonSageMaker", "AmazonCloudFront",
    "AmazonEKS", "AmazonElastiCache", "AmazonRedshift", "AmazonOpenSearchService", "AmazonKinesis",
)  # fmt: skip
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")


def varied_series(rng: random.Random) -> list[Series]:
    """A bill's series with their character drawn at random within the ranges users' bills span.

    2–4 accounts of 3–10 services; $0.05–$300 an hour (log-uniform); 3–20% hourly noise; weekends
    at 0.5–1.0 of weekdays (per account); trends from −1%/week to +3%/week; a daily cycle or none;
    weekly and month-start batch work; 1–5 resources.
    """
    out = []
    for n in range(rng.randint(2, 4)):
        account, weekend = f"{(n + 1) * 111111111111 % 10**12:012d}", rng.uniform(0.5, 1.0)
        for service in rng.sample(SERVICES, rng.randint(3, 10)):
            out.append(
                Series(
                    account,
                    service,
                    rng.choice(REGIONS),
                    base=math.exp(rng.uniform(math.log(0.05), math.log(300))),
                    noise=rng.uniform(0.03, 0.20),
                    trend_per_day=rng.uniform(-0.01, 0.03) / 7,
                    weekly_burst=rng.random() < 0.3,
                    month_start_run=rng.random() < 0.3,
                    weekend=weekend,
                    diurnal=0.0 if rng.random() < 0.3 else rng.uniform(0.1, 0.5),
                    resources=rng.randint(1, 5),
                )  # fmt: skip
            )
    return out


def shape(series: Series, moment: datetime, day: int) -> float:
    """The legitimate cost of an hour: daily and weekly cycle, trend, planned bursts."""
    daily = 1 + series.diurnal * math.sin((moment.hour - 8) / 24 * 2 * math.pi)
    weekly = series.weekend if moment.weekday() >= 5 else 1.0
    cost = series.base * daily * weekly * (1 + series.trend_per_day * day)
    if series.weekly_burst and moment.weekday() == 6 and 2 <= moment.hour < 5:
        cost *= 3.0
    if series.month_start_run and moment.day == 1 and moment.hour < 6:
        cost *= 2.5
    return cost


def plan_anomalies(bill: list[Series], rng: random.Random, days: int) -> None:
    """Anomalies on every material series, kinds in turn, apart from each other, after the warm-up."""
    turn = 0
    for series in bill:
        if series.base < 1:
            continue
        slots = range(20, days - 10, 14)
        for day in sorted(rng.sample(slots, min(3, len(slots)))):
            kind = KINDS[turn % len(KINDS)]
            turn += 1
            start = START + timedelta(days=day, hours=rng.randrange(0, 24))
            hours = {"spike": rng.randint(2, 6), "leak": 72, "level_shift": 24 * (days - day), "new_region": 6}[kind]
            size = {"spike": rng.uniform(0.6, 2.0), "leak": 1.5, "level_shift": rng.uniform(0.7, 1.2)}.get(kind, 0.0)
            series.events.append({"kind": kind, "start": start, "hours": hours, "size": size})
            if kind == "level_shift":
                break  # the new normal lasts to the end


def anomalous_extra(series: Series, moment: datetime, cost: float) -> tuple[float, float]:
    """(extra cost in the usual region, cost in a new region) the planned anomalies add."""
    extra = new_region = 0.0
    for event in series.events:
        offset = (moment - event["start"]).total_seconds() / 3600
        if not 0 <= offset < event["hours"]:
            continue
        if event["kind"] == "spike":
            extra += cost * event["size"]
        elif event["kind"] == "leak":
            extra += cost * event["size"] * offset / event["hours"]
        elif event["kind"] == "level_shift":
            extra += cost * event["size"]
        else:
            new_region += max(series.base * 0.8, 6.0)
    return extra, new_region


def labels(bill: list[Series]) -> list[dict]:
    """Anomaly windows: the whole event, except a level shift, which counts for its first day."""
    out = []
    for series in bill:
        for event in series.events:
            hours = min(event["hours"], 24) if event["kind"] == "level_shift" else event["hours"]
            end = event["start"] + timedelta(hours=hours)
            out.append(
                {
                    "account_id": series.account,
                    "service": series.service,
                    "start": event["start"].strftime(ISO),
                    "end": end.strftime(ISO),
                    "kind": event["kind"],
                }
            )
    return out


def resource_shares(count: int) -> list[float]:
    """How a series' cost splits over its resources: 3 → 0.5, 0.3, 0.2 as before; others halve."""
    if count == 3:
        return [0.5, 0.3, 0.2]
    weights = [0.5**n for n in range(count)]
    return [w / sum(weights) for w in weights]


def rows(bill: list[Series], days: int, rng: random.Random) -> list[dict]:
    out = []
    for series in bill:
        shares = resource_shares(series.resources)
        for hour in range(days * 24):
            moment = START + timedelta(hours=hour)
            cost = shape(series, moment, hour // 24) * math.exp(rng.gauss(0, series.noise))
            extra, new_region = anomalous_extra(series, moment, cost)
            for n, share in enumerate(shares):
                resource = f"{series.service.lower()}-{series.account[-4:]}-{n}"
                out.append(line(series, moment, series.region, resource, cost * share))
            if extra:
                out.append(line(series, moment, series.region, f"{series.service.lower()}-runaway", extra))
            if new_region:
                out.append(line(series, moment, "sa-east-1", f"{series.service.lower()}-stray", new_region))
    accounts = sorted({s.account for s in bill})
    month = START.replace(day=1)
    while month < START + timedelta(days=days):
        for account in accounts:
            if month >= START:
                for kind, amount in (("Fee", 2000.0), ("Tax", 450.0), ("Credit", -300.0)):
                    out.append(charge(account, month, kind, amount))
        month = (month + timedelta(days=32)).replace(day=1)
    rng.shuffle(out)
    return out


def line(series: Series, moment: datetime, region: str, resource: str, cost: float) -> dict:
    return {
        "account": series.account,
        "service": series.service,
        "region": region,
        "resource": resource,
        "start": moment,
        "end": moment + timedelta(hours=1),
        "type": "Usage",
        "cost": f"{cost:.8f}",
    }


def charge(account: str, month: datetime, kind: str, amount: float) -> dict:
    return {
        "account": account,
        "service": "AWSSupportBusiness" if kind == "Fee" else "AmazonEC2",
        "region": "",
        "resource": "",
        "start": month,
        "end": month + timedelta(days=1),
        "type": kind,
        "cost": f"{amount:.2f}",
    }


def legitimate_daily_usage(bill: list[Series], days: int) -> dict[tuple[str, date], float]:
    """Each account's usage cost per day without noise or anomalies, level shifts included.

    What a perfect forecaster would predict for ``bill``: the ceiling the forecast quality
    benchmark compares the model with.
    """
    totals: dict[tuple[str, date], float] = {}
    for series in bill:
        shifts = [e for e in series.events if e["kind"] == "level_shift"]
        for hour in range(days * 24):
            moment = START + timedelta(hours=hour)
            cost = shape(series, moment, hour // 24)
            cost += sum(cost * e["size"] for e in shifts if moment >= e["start"])
            key = (series.account, moment.date())
            totals[key] = totals.get(key, 0.0) + cost
    return totals


def write(out: Path, days: int = 120, seed: int = 1) -> tuple[Path, Path]:
    """Generate the default bill and its labels under ``out``; returns (export folder, labels file)."""
    export, labels_path, _ = write_bill(out, days, seed)
    return export, labels_path


def write_bill(out: Path, days: int, seed: int, varied: bool = False) -> tuple[Path, Path, list[Series]]:
    """Generate a bill (the default one, or ``varied`` from the seed): (export folder, labels file, series)."""
    rng = random.Random(seed)
    bill = varied_series(rng) if varied else [replace(series, events=[]) for series in SERIES]
    plan_anomalies(bill, rng, days)
    by_period: dict[str, list[dict]] = {}
    for row in rows(bill, days, rng):
        by_period.setdefault(row["start"].strftime("%Y-%m"), []).append(row)
    for period, period_rows in by_period.items():
        path = out / "data" / f"BILLING_PERIOD={period}" / "labelled-00001.csv.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for n, row in enumerate(period_rows):
                writer.writerow(cur2_row(row, period, n))
    labels_path = out / "labels.json"
    labels_path.write_text(json.dumps(labels(bill), indent=1))
    return out, labels_path, bill


COLUMNS = [
    "identity_line_item_id",
    "identity_time_interval",
    "bill_payer_account_id",
    "bill_billing_period_start_date",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "product_region_code",
    "line_item_resource_id",
    "line_item_unblended_cost",
    "line_item_net_unblended_cost",
    "line_item_currency_code",
    "line_item_usage_amount",
    "resource_tags",
]


def cur2_row(row: dict, period: str, n: int) -> list[str]:
    start, end = row["start"].strftime(ISO), row["end"].strftime(ISO)
    return [
        f"{period}-{n:08d}",
        f"{start}/{end}",
        PAYER,
        f"{period}-01T00:00:00Z",
        row["account"],
        row["type"],
        start,
        end,
        row["service"],
        row["region"],
        row["resource"],
        row["cost"],
        row["cost"],
        "USD",
        "1",
        "{}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--varied", action="store_true", help="draw the bill's character from the seed")
    args = parser.parse_args()
    export, labels_path, _ = write_bill(args.out, args.days, args.seed, args.varied)
    print(f"wrote {export} and {labels_path}")


if __name__ == "__main__":
    main()
