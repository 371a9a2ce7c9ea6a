"""Generate the bundled sample AWS CUR 2.0 export (deterministic: same seed, same bytes).

Four member accounts under one payer, six services in two regions, three weeks of hourly usage
with daily and weekly seasonality, a runaway GPU instance in ml-research on one day, monthly
support fees, taxes, promotional credits and a refund. Rows are shuffled across two files, as
real exports are not in time order.

    python deploy/sample/generate_cur2.py [--out deploy/sample/cur2] [--days 21]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

PAYER = "999999999999"
PERIOD_START = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 11, 1, tzinfo=UTC)
ACCOUNTS = {
    "111111111111": ("retail-prod", "production", "storefront", ["web", "checkout"]),
    "222222222222": ("retail-staging", "staging", "storefront", ["web"]),
    "333333333333": ("data-platform", "production", "lakehouse", ["data-eng"]),
    "444444444444": ("ml-research", "development", "recsys", ["ml"]),
}
# service: (usage type, unit rate USD, base units per hour per resource, resource prefix)
SERVICES = {
    "AmazonEC2": ("BoxUsage:m6i.xlarge", "0.192", 1, "i-"),
    "AmazonRDS": ("InstanceUsage:db.r6g.large", "0.225", 1, "db-"),
    "AmazonS3": ("TimedStorage-ByteHrs", "0.0000319444", 900, "bucket-"),
    "AWSLambda": ("Request", "0.0000002", 150000, "fn-"),
    "AmazonDynamoDB": ("ReadRequestUnits", "0.00000025", 80000, "table-"),
    "AmazonCloudWatch": ("MetricMonitorUsage", "0.000416667", 120, "metric-"),
}
REGIONS = ["us-east-1", "eu-west-1"]
SPIKE = ("444444444444", "AmazonEC2", "us-east-1", 15)  # account, service, region, day of month
COLUMNS = [
    "bill_bill_type",
    "bill_billing_entity",
    "bill_billing_period_end_date",
    "bill_billing_period_start_date",
    "bill_invoice_id",
    "bill_payer_account_id",
    "bill_payer_account_name",
    "cost_category",
    "discount",
    "identity_line_item_id",
    "identity_time_interval",
    "line_item_availability_zone",
    "line_item_blended_cost",
    "line_item_currency_code",
    "line_item_line_item_description",
    "line_item_line_item_type",
    "line_item_net_unblended_cost",
    "line_item_operation",
    "line_item_product_code",
    "line_item_resource_id",
    "line_item_unblended_cost",
    "line_item_unblended_rate",
    "line_item_usage_account_id",
    "line_item_usage_account_name",
    "line_item_usage_amount",
    "line_item_usage_end_date",
    "line_item_usage_start_date",
    "line_item_usage_type",
    "pricing_unit",
    "product",
    "product_region_code",
    "product_servicecode",
    "resource_tags",
]
CENT_10 = Decimal("0.0000000001")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def row(
    rng: random.Random,
    account: str,
    service: str,
    region: str,
    start: datetime,
    end: datetime,
    line_item_type: str,
    cost: Decimal,
    amount: Decimal,
    usage_type: str,
    resource: str,
    tags: dict[str, str],
    description: str,
) -> dict[str, str]:
    name = ACCOUNTS[account][0]
    line_item_id = uuid.UUID(int=rng.getrandbits(128)).hex
    return {
        "bill_bill_type": "Anniversary",
        "bill_billing_entity": "AWS",
        "bill_billing_period_end_date": iso(PERIOD_END),
        "bill_billing_period_start_date": iso(PERIOD_START),
        "bill_invoice_id": "",
        "bill_payer_account_id": PAYER,
        "bill_payer_account_name": "example-payer",
        "cost_category": "{}",
        "discount": "{}",
        "identity_line_item_id": line_item_id,
        "identity_time_interval": f"{iso(start)}/{iso(end)}",
        "line_item_availability_zone": f"{region}a" if line_item_type == "Usage" else "",
        "line_item_blended_cost": str(cost),
        "line_item_currency_code": "USD",
        "line_item_line_item_description": description,
        "line_item_line_item_type": line_item_type,
        "line_item_net_unblended_cost": str(cost),
        "line_item_operation": "RunInstances" if service == "AmazonEC2" else "",
        "line_item_product_code": service,
        "line_item_resource_id": resource,
        "line_item_unblended_cost": str(cost),
        "line_item_unblended_rate": "",
        "line_item_usage_account_id": account,
        "line_item_usage_account_name": name,
        "line_item_usage_amount": str(amount),
        "line_item_usage_end_date": iso(end),
        "line_item_usage_start_date": iso(start),
        "line_item_usage_type": usage_type,
        "pricing_unit": "Hrs",
        "product": json.dumps({"region": region, "servicename": service}),
        "product_region_code": region,
        "product_servicecode": service,
        "resource_tags": json.dumps(tags, sort_keys=True),
    }


def usage_rows(rng: random.Random, days: int) -> list[dict[str, str]]:
    rows = []
    for account, (_, environment, project, teams) in ACCOUNTS.items():
        for service, (usage_type, rate, units, prefix) in SERVICES.items():
            for region in REGIONS:
                for n in range(2):
                    resource = f"{prefix}{account[-4:]}{region[:2]}{n:02d}{service[-3:].lower()}"
                    tags = {
                        "user_team": teams[n % len(teams)],
                        "user_environment": environment,
                        "user_project": project,
                    }
                    if n == 1 and account == "222222222222":
                        tags = {}  # untagged resources exist in every real bill
                    rows.extend(
                        hourly(rng, account, service, region, resource, usage_type, Decimal(rate), units, tags, days)
                    )
    return rows


def hourly(rng, account, service, region, resource, usage_type, rate, units, tags, days):
    rows = []
    scale = 1.0 if region == "us-east-1" else 0.6
    for hour in range(days * 24):
        start = PERIOD_START + timedelta(hours=hour)
        daily = 1 + 0.35 * math.sin((start.hour - 6) / 24 * 2 * math.pi)
        weekly = 0.7 if start.weekday() >= 5 else 1.0
        amount = units * scale * daily * weekly * rng.uniform(0.9, 1.1)
        if (account, service, region, start.day) == SPIKE and start.hour >= 8:
            amount *= 40  # a runaway fleet of GPU-sized instances
        amount_d = Decimal(str(round(amount, 4)))
        cost = (amount_d * rate).quantize(CENT_10, ROUND_HALF_EVEN)
        rows.append(
            row(
                rng,
                account,
                service,
                region,
                start,
                start + timedelta(hours=1),
                "Usage",
                cost,
                amount_d,
                f"{'USE1' if region == 'us-east-1' else 'EU'}-{usage_type}",
                resource,
                tags,
                f"{service} {usage_type} in {region}",
            )
        )
    return rows


def billing_rows(rng: random.Random, days: int) -> list[dict[str, str]]:
    """Monthly fees and taxes at the period start, daily credits, one refund."""
    rows = []
    for account in ACCOUNTS:
        rows.append(
            row(
                rng,
                account,
                "AWSSupportBusiness",
                "",
                PERIOD_START,
                PERIOD_END,
                "Fee",
                Decimal("100.0000000000"),
                Decimal("1"),
                "Dollar",
                "",
                {},
                "AWS Support (Business)",
            )
        )
        for service in ("AmazonEC2", "AmazonRDS"):
            rows.append(
                row(
                    rng,
                    account,
                    service,
                    "",
                    PERIOD_START,
                    PERIOD_END,
                    "Tax",
                    Decimal(rng.randint(500, 4000)) / 100,
                    Decimal("0"),
                    "Tax",
                    "",
                    {},
                    "Tax for month",
                )
            )
    for day in range(days):
        start = PERIOD_START + timedelta(days=day)
        rows.append(
            row(
                rng,
                "333333333333",
                "AmazonEC2",
                "us-east-1",
                start,
                start + timedelta(days=1),
                "Credit",
                Decimal("-5.2500000000"),
                Decimal("0"),
                "Credit",
                "",
                {},
                "AWS Activate credits",
            )
        )
    start = PERIOD_START + timedelta(days=9)
    rows.append(
        row(
            rng,
            "111111111111",
            "AmazonRDS",
            "us-east-1",
            start,
            start + timedelta(days=1),
            "Refund",
            Decimal("-12.3400000000"),
            Decimal("0"),
            "Refund",
            "",
            {},
            "Refund for RDS outage",
        )
    )
    return rows


def write(rows: list[dict[str, str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with gzip.GzipFile(path, "wb", mtime=0) as out:
        out.write(text.getvalue().encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "cur2")
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--seed", type=int, default=20261001)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows = usage_rows(rng, args.days) + billing_rows(rng, args.days)
    rng.shuffle(rows)
    folder = args.out / "data" / "BILLING_PERIOD=2026-10"
    half = len(rows) // 2
    write(rows[:half], folder / "spendstream-sample-00001.csv.gz")
    write(rows[half:], folder / "spendstream-sample-00002.csv.gz")
    print(f"wrote {len(rows)} rows to {folder}")


if __name__ == "__main__":
    main()
