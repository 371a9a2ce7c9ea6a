"""One synthetic bill, written as AWS CUR 2.0, AWS CUR 1.0 and FOCUS 1.x exports.

The three files describe exactly the same charges, so every format's normalizer must yield the
same usage totals per account, service and day.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

START = datetime(2026, 9, 1, tzinfo=UTC)
PAYER = "900000000001"
ACCOUNTS = ("100000000001", "100000000002", "100000000003")
SERVICES = {  # CUR product code -> FOCUS ServiceName
    "AmazonEC2": "Amazon Elastic Compute Cloud",
    "AmazonS3": "Amazon Simple Storage Service",
    "AWSLambda": "AWS Lambda",
}
FOCUS_CATEGORY = {"Usage": "Usage", "Fee": "Purchase", "Tax": "Tax", "Credit": "Credit"}


@dataclass(frozen=True)
class Charge:
    line_item_id: str
    account: str
    service: str
    region: str
    start: datetime
    end: datetime
    line_item_type: str
    cost: Decimal
    amount: Decimal
    team: str


def charges(days: int = 3, seed: int = 11) -> list[Charge]:
    rng = random.Random(seed)
    out = []

    def add(account, service, region, start, end, kind, cost, amount=Decimal(1), team=""):
        out.append(Charge(f"li-{len(out):06d}", account, service, region, start, end, kind, cost, amount, team))

    for account in ACCOUNTS:
        for hour in range(days * 24):
            start = START + timedelta(hours=hour)
            for service in ("AmazonEC2", "AWSLambda"):
                for region in ("us-east-1", "eu-west-1"):
                    cost = Decimal(rng.randint(1, 10**9)) / 10**9
                    add(
                        account,
                        service,
                        region,
                        start,
                        start + timedelta(hours=1),
                        "Usage",
                        cost,
                        Decimal(rng.randint(1, 10**4)) / 10**4,
                        team=rng.choice(["web", "data", ""]),
                    )
        for day in range(days):  # daily storage line items: another duration, same event
            start = START + timedelta(days=day)
            add(
                account,
                "AmazonS3",
                "us-east-1",
                start,
                start + timedelta(days=1),
                "Usage",
                Decimal(rng.randint(1, 10**7)) / 10**6,
            )
        month = (START, START.replace(month=START.month + 1))
        add(account, "AmazonEC2", "", *month, "Fee", Decimal("29.00"))
        add(account, "AmazonEC2", "", *month, "Tax", Decimal("3.1234567891"))
        add(account, "AmazonEC2", "us-east-1", START, START + timedelta(days=1), "Credit", Decimal("-1.50"))
    rng.shuffle(out)
    return out


def restate(bill: list[Charge], seed: int = 5) -> list[Charge]:
    """A restated delivery of ``bill``: the corrections AWS makes, as the newer delivery of the period.

    Same line item ids with ~10% of costs corrected, ~5% of rows gone, every line item of one
    account × service × region × hour gone, and a few new rows.
    """
    rng = random.Random(seed)
    usage = [c for c in bill if c.line_item_type == "Usage"]
    gone = usage[0]
    kept = [
        c
        for c in bill
        if rng.random() > 0.05
        and (c.account, c.service, c.region, c.start) != (gone.account, gone.service, gone.region, gone.start)
    ]
    restated = [replace(c, cost=c.cost * Decimal("1.1")) if rng.random() < 0.1 else c for c in kept]
    added = [replace(c, line_item_id=f"{c.line_item_id}-new", cost=c.cost + 1) for c in rng.sample(usage, 20)]
    return restated + added


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def write_cur2(bill: list[Charge], path: Path, period_start: datetime = START) -> None:
    rows = [
        {
            "identity_line_item_id": c.line_item_id,
            "identity_time_interval": f"{iso(c.start)}/{iso(c.end)}",
            "bill_payer_account_id": PAYER,
            "bill_billing_period_start_date": iso(period_start),
            "line_item_usage_account_id": c.account,
            "line_item_line_item_type": c.line_item_type,
            "line_item_usage_start_date": iso(c.start),
            "line_item_usage_end_date": iso(c.end),
            "line_item_product_code": c.service,
            "product_region_code": c.region,
            "line_item_unblended_cost": str(c.cost),
            "line_item_net_unblended_cost": str(c.cost),
            "line_item_currency_code": "USD",
            "line_item_usage_amount": str(c.amount),
            "resource_tags": json.dumps({"user_team": c.team}) if c.team else "{}",
        }
        for c in bill
    ]
    _write(rows, path)


def write_cur1(bill: list[Charge], path: Path) -> None:
    rows = [
        {
            "identity/LineItemId": c.line_item_id,
            "identity/TimeInterval": f"{iso(c.start)}/{iso(c.end)}",
            "bill/PayerAccountId": PAYER,
            "bill/BillingPeriodStartDate": iso(START),
            "lineItem/UsageAccountId": c.account,
            "lineItem/LineItemType": c.line_item_type,
            "lineItem/UsageStartDate": iso(c.start),
            "lineItem/UsageEndDate": iso(c.end),
            "lineItem/ProductCode": c.service,
            "product/region": c.region,
            "lineItem/UnblendedCost": str(c.cost),
            "lineItem/CurrencyCode": "USD",
            "lineItem/UsageAmount": str(c.amount),
            "resourceTags/user:team": c.team,
        }
        for c in bill
    ]
    _write(rows, path)


def write_focus(bill: list[Charge], path: Path) -> None:
    rows = [
        {
            "BilledCost": str(c.cost),
            "EffectiveCost": str(c.cost),
            "ListCost": str(c.cost),
            "BillingAccountId": PAYER,
            "SubAccountId": c.account,
            "BillingCurrency": "USD",
            "BillingPeriodStart": "2026-09-01 00:00:00",
            "ChargeCategory": FOCUS_CATEGORY[c.line_item_type],
            "ChargePeriodStart": c.start.strftime("%Y-%m-%d %H:%M:%S"),
            "ChargePeriodEnd": c.end.strftime("%Y-%m-%d %H:%M:%S"),
            "ServiceName": SERVICES[c.service],
            "RegionId": c.region or "NULL",
            "ResourceId": "NULL",
            "Tags": json.dumps({"team": c.team}) if c.team else "NULL",
            "ConsumedQuantity": str(c.amount),
            "Id": c.line_item_id,
        }
        for c in bill
    ]
    _write(rows, path)


def _write(rows: list[dict[str, str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


WRITERS = {"cur2": write_cur2, "cur1": write_cur1, "focus": write_focus}


def write_cur2_parquet(bill: list[Charge], path: Path) -> None:
    """CUR 2.0 as Data Exports writes Parquet: doubles, timestamps and map<string,string> tags."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "identity_line_item_id": [c.line_item_id for c in bill],
            "bill_payer_account_id": [PAYER for _ in bill],
            "bill_billing_period_start_date": pa.array([START for _ in bill], pa.timestamp("ms")),
            "line_item_usage_account_id": [c.account for c in bill],
            "line_item_line_item_type": [c.line_item_type for c in bill],
            "line_item_usage_start_date": pa.array([c.start.replace(tzinfo=None) for c in bill], pa.timestamp("ms")),
            "line_item_usage_end_date": pa.array([c.end.replace(tzinfo=None) for c in bill], pa.timestamp("ms")),
            "line_item_product_code": [c.service for c in bill],
            "product_region_code": [c.region for c in bill],
            "line_item_unblended_cost": pa.array([float(c.cost) for c in bill], pa.float64()),
            "line_item_currency_code": ["USD" for _ in bill],
            "line_item_usage_amount": pa.array([float(c.amount) for c in bill], pa.float64()),
            "resource_tags": pa.array(
                [[("user_team", c.team)] if c.team else [] for c in bill], pa.map_(pa.string(), pa.string())
            ),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=500)
