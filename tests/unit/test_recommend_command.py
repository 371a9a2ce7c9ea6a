"""``spendstream recommend`` on a small CUR 2.0 bill with CloudWatch-style metrics."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from spendstream.cli import main

START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 30
# resource → (type, on-demand rate, hourly CPU %, network bytes per hour)
FLEET = {
    "i-idle": ("m5.large", "0.096", 1.0, 1e3),
    "i-oversized": ("m5.2xlarge", "0.384", 12.0, 1e8),
    "i-busy": ("c5.xlarge", "0.17", 70.0, 1e8),
}
CUR2_HEADER = [
    "identity_line_item_id", "line_item_usage_start_date", "line_item_usage_end_date", "line_item_usage_account_id",
    "line_item_line_item_type", "line_item_unblended_cost", "line_item_product_code", "product_region_code",
    "line_item_resource_id", "line_item_usage_type", "line_item_usage_amount", "pricing_public_on_demand_rate",
    "pricing_public_on_demand_cost", "product_instance_type", "resource_tags",
]  # fmt: skip


def write_bill(
    folder: Path, days: int = DAYS, fleet_on=lambda day: FLEET, tags: dict | None = None
) -> tuple[Path, Path]:
    """A CUR 2.0 bill and its metrics CSV; ``fleet_on(day)`` is what runs that day."""
    folder.mkdir()
    bill, metrics = folder / "bill.csv", folder / "metrics.csv"
    with bill.open("w", newline="") as b, metrics.open("w", newline="") as m:
        bills, samples = csv.writer(b), csv.writer(m)
        bills.writerow(CUR2_HEADER)
        samples.writerow(["timestamp", "resource_id", "metric", "value"])
        samples.writerow(["not a time", "i-idle", "CPUUtilization", "1"])  # refused, counted
        for hour in range(days * 24):
            start = START + timedelta(hours=hour)
            for resource, (kind, rate, cpu, network) in fleet_on(hour // 24).items():
                stamp = start.isoformat()
                row = [f"{resource}-{hour}", stamp, (start + timedelta(hours=1)).isoformat(), "111111111111", "Usage"]
                bills.writerow(
                    row
                    + [rate, "AmazonEC2", "us-east-1", resource, f"BoxUsage:{kind}", "1", rate, rate, kind]
                    + [json.dumps((tags or {}).get(resource, {}))]
                )
                samples.writerow([stamp, resource, "CPUUtilization", cpu + (hour % 5)])
                samples.writerow([stamp, resource, "NetworkIn", network])
    return bill, metrics


def test_recommend_writes_idle_rightsize_and_commitment_advice(tmp_path, capsys):
    bill, metrics = write_bill(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["recommend", str(bill), "--metrics", str(metrics), "--out", str(out), "--as-of", "2026-10-01"]) == 0
    records = [json.loads(line) for line in (out / "recommendations.jsonl").read_text().splitlines()]
    by_resource = {r["resource_id"]: r for r in records if r["resource_id"]}
    assert by_resource["i-idle"]["type"] == "idle"
    oversized = by_resource["i-oversized"]  # no memory metric: one size down at most, whatever the CPU allows
    assert (oversized["type"], oversized["recommended_type"]) == ("rightsize", "m5.xlarge")
    assert "i-busy" not in by_resource
    commitments = [r for r in records if r["resource_id"] is None]
    assert commitments and {r["type"] for r in commitments} <= {"reserved_instance", "ec2_instance_savings_plan"}
    # sized on the fleet as it will be: no RI for the instance to stop, the resized one at its new type
    assert {r["current_type"] for r in commitments} == {"1 × m5.xlarge", "1 × c5.xlarge"}
    for record in records:
        assert 0 < float(record["potential_savings"]) <= float(record["current_monthly_cost"])
        assert record["estimated_implementation_time"] and record["risk_level"] in ("low", "medium")
    findings = {f["resource_id"]: f for f in map(json.loads, (out / "findings.jsonl").read_text().splitlines())}
    assert findings["i-busy"]["finding"] == "optimized" and findings["i-busy"]["reason"]
    printed = capsys.readouterr().out
    assert "rejected 1" in printed and "recommendations" in printed
    report = (out / "report.html").read_text()
    assert report.count("<tr><td>") == len(records) + len(findings)  # every recommendation and finding
    assert "i-idle" in report and "m5.2xlarge → m5.xlarge" in report and "$308.02/month" in report


def test_an_as_of_date_before_enough_data_gives_reasons_not_advice(tmp_path):
    bill, metrics = write_bill(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["recommend", str(bill), "--metrics", str(metrics), "--out", str(out), "--as-of", "2026-09-08"]) == 0
    findings = [json.loads(line) for line in (out / "findings.jsonl").read_text().splitlines()]
    assert {f["finding"] for f in findings} == {"insufficient_data"}
    records = [json.loads(line) for line in (out / "recommendations.jsonl").read_text().splitlines()]
    assert all(r["resource_id"] is None for r in records)  # commitments may still be sized on a week


def test_a_bad_metrics_file_is_refused_with_what_was_expected(tmp_path, capsys):
    bill, _ = write_bill(tmp_path / "in")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("when,what\n1,2\n")
    assert main(["recommend", str(bill), "--metrics", str(wrong), "--out", str(tmp_path / "out")]) != 0
    assert "expected columns" in capsys.readouterr().out


def test_a_tagged_workload_gets_an_instance_mix_and_no_commitment_for_the_same_instances(tmp_path):
    web = {"i-web-1": ("m5.large", "0.096", 55.0, 1e8), "i-web-2": ("m5.large", "0.096", 60.0, 1e8)}
    tags = {resource: {"user_workload": "web"} for resource in web}
    bill, metrics = write_bill(tmp_path / "in", fleet_on=lambda day: {**FLEET, **web}, tags=tags)
    out = tmp_path / "out"
    assert main(["recommend", str(bill), "--metrics", str(metrics), "--out", str(out), "--as-of", "2026-10-01"]) == 0
    records = [json.loads(line) for line in (out / "recommendations.jsonl").read_text().splitlines()]
    (mix,) = [r for r in records if r["type"] == "instance_mix"]
    assert mix["current_type"] == "workload web (AmazonEC2 m5)" and mix["current_monthly_cost"] == "140.16"
    assert 0 < float(mix["potential_savings"]) <= float(mix["current_monthly_cost"])
    assert mix["evidence"]["availability"] >= 0.999 and mix["evidence"]["performance"] >= 0.95
    assert mix["evidence"]["lookback_days"] == 30  # the bill's 30 days of the 60 asked: no unknown days as zero
    # the untagged m5.large is stopped (idle) and the web instances are the mix's: no m5.large RI left
    assert not [r for r in records if r["resource_id"] is None and r["current_type"].endswith("m5.large")]
