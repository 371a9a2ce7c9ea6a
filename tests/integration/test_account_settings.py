"""Business context and thresholds changed through the API take effect in the running job.

A bill is replayed into a continuously running job; then a business mapping, a daily budget and
a service's daily budget are changed through the API's GraphQL mutations (over its socket, with
real tokens); then a second bill is replayed. The job, never restarted, enriches and judges the second bill's events
with the new settings and the first bill's with the old ones; every change is on the settings
topic with who made it and the entry before and after; a refused change writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.account_settings import settings_changes
from connectors.replay import replay
from schemas import SchemaName, codec
from spendstream.api.access import SECRET_ENV, TokenKeys
from spendstream.api.process import api_server
from spendstream.config import Config
from spendstream.flink_client import cancel, rest, submit
from spendstream.processes import wait_until
from tests.conformance.bill import ACCOUNTS, START, Charge, charges, write_cur2
from tests.integration.test_api import graphql
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import read_topic
from tests.integration.test_restatement import settled

pytestmark = pytest.mark.integration

SECRET = "settings-test-secret-of-forty-bytes!!!!!"
MAPPED, BUDGETED, SERVICE_BUDGETED = ACCOUNTS
OCTOBER = START.replace(month=10)
MAPPING = """mutation($id: String!) { updateBusinessMapping(accountId: $id, mapping: {
    name: "payments-live", costCenter: "CC-LIVE-1", tagRules: [{tag: "user_team", dimension: "project",
    values: [{tagValue: "web", becomes: "storefront"}]}, {tag: "user_team", dimension: "customer"}],
    allocation: {rule: "even"}}) { version name costCenter allocationRule tagRules { tag dimension } } }"""
BY_CUSTOMER = """query($id: String!, $customer: String!) { getCostByCustomer(accountId: $id, customerId: $customer,
    start: "2026-10-01", end: "2026-10-03") { totalUsd directUsd allocatedUsd days { day usd } } }"""
THRESHOLDS = """mutation($id: String!, $amount: String!) { setAlertThresholds(accountId: $id, thresholds: {
    daily: {amount: $amount, thresholds: ["1.0"]}}) { version budgets { period amount thresholds } } }"""

SERVICE_BUDGET = """mutation($id: String!) { setAlertThresholds(accountId: $id, thresholds: {services: [
    {service: "AWSLambda", daily: {amount: "5.00", thresholds: ["1.0"]}}]}) { budgets { service period amount } } }"""
HISTORY = "query($id: String!) { settingsHistory(accountId: $id) { version changedBy change before after } }"


def token(account: str, permission: str) -> str:
    return TokenKeys("HS256", SECRET.encode()).mint("ops@example.com", {account: permission}, ("engineer",), 600)


def in_october(bill: list[Charge]) -> list[Charge]:
    """The same usage one month later, with line item ids of its own (a new billing period)."""
    return [
        replace(
            c, line_item_id=f"{c.line_item_id}-oct", start=c.start + timedelta(days=30), end=c.end + timedelta(days=30)
        )
        for c in bill
        if c.line_item_type == "Usage"
    ]


def published(bill: list[Charge], folder: Path, config: Config, period: str):
    path = folder / "data" / f"BILLING_PERIOD={period}" / "export-00001.csv"
    write_cur2(bill, path, OCTOBER if period.endswith("10") else START)
    return replay(folder, config, show_progress=False, heartbeat=True)


def aggregates(config: Config, account: str) -> list[dict]:
    records = [codec().decode(r.value, SchemaName.COST_AGGREGATE) for r in read_topic(config, "aggregate")]
    return [a for a in records if a["scope"] == "account_service" and a["account_id"] == account]


def test_changed_settings_apply_to_events_processed_after_the_change_in_the_running_job(stack: Config, tmp_path):
    config = isolated(stack, "settings-live")
    september = charges(days=2)
    first = published(september, tmp_path / "september", config, "2026-09")
    running = submit(config, "cost-aggregation", first.backfill_args()[:2])  # on and on, never restarted
    try:
        settled(config, september)
        with api_server(config, {SECRET_ENV: SECRET}) as url:
            status, refused = graphql(url, THRESHOLDS, token(BUDGETED, "configure"), {"id": BUDGETED, "amount": "-5"})
            assert status == 400 and "positive" in refused["errors"][0]["message"], refused
            status, body = graphql(url, MAPPING, token(MAPPED, "read"), {"id": MAPPED})
            assert status == 403 and body["data"] is None
            assert settings_changes(config) == [], "a refused change was written"

            status, body = graphql(url, MAPPING, token(MAPPED, "configure"), {"id": MAPPED})
            mapping = body["data"]["updateBusinessMapping"]
            assert status == 200 and (mapping["costCenter"], mapping["allocationRule"]) == ("CC-LIVE-1", "even"), body
            status, body = graphql(url, THRESHOLDS, token(BUDGETED, "configure"), {"id": BUDGETED, "amount": "10.00"})
            assert status == 200 and body["data"]["setAlertThresholds"]["version"] == 1, body
            status, body = graphql(url, SERVICE_BUDGET, token(SERVICE_BUDGETED, "configure"), {"id": SERVICE_BUDGETED})
            assert body["data"]["setAlertThresholds"]["budgets"] == [
                {"service": "AWSLambda", "period": "daily", "amount": "5.00"}
            ]
            status, body = graphql(url, HISTORY, token(MAPPED, "read"), {"id": MAPPED})
        assert body["data"]["settingsHistory"] == [
            {"version": 1, "changedBy": "ops@example.com", "change": "business_mapping", "before": {},
             "after": {"name": "payments-live", "cost_center": "CC-LIVE-1", "allocation": {"rule": "even"},
                       "tag_rules": [{"tag": "user_team", "dimension": "project", "values": {"web": "storefront"}},
                                     {"tag": "user_team", "dimension": "customer", "values": {}}]}}
        ]  # fmt: skip
        wait_until(lambda: settings_applied(config, running) >= 3, "the job to apply the 3 changes", 60)
        october = in_october(september)
        published(october, tmp_path / "october", config, "2026-10")
        settled(config, september + october)
        with api_server(config, {SECRET_ENV: SECRET}) as url:
            status, web = graphql(url, BY_CUSTOMER, token(MAPPED, "read"), {"id": MAPPED, "customer": "web"})
    finally:
        cancel(config, running)

    mapped = aggregates(config, MAPPED)
    before = [a for a in mapped if a["window_start_ms"] < OCTOBER.timestamp() * 1000]
    after = [a for a in mapped if a["window_start_ms"] >= OCTOBER.timestamp() * 1000]
    assert before and after
    assert {(a["account_name"], a["cost_center"]) for a in before} == {(MAPPED, "unassigned")}
    assert {a["project"] for a in before} == {"unassigned"}
    assert {(a["account_name"], a["cost_center"]) for a in after} == {("payments-live", "CC-LIVE-1")}
    assert {a["project"] for a in after} == {"storefront", "data", "unassigned"}  # tag rule, values mapped

    alerts = [codec().decode(r.value, SchemaName.ALERT) for r in read_topic(config, "alert")]
    budgets = {(a["account_id"], a["service"], a["details"]["period_start"]) for a in alerts if a["kind"] == "budget"}
    october = {"2026-10-01", "2026-10-02"}
    assert budgets == {  # each budget applies to the days replayed after it, only
        *((BUDGETED, "*", day) for day in october),
        *((SERVICE_BUDGETED, "AWSLambda", day) for day in october),
    }

    units = [codec().decode(r.value, SchemaName.UNIT_COST) for r in read_topic(config, "unit_cost")]
    hour_totals: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for account in ACCOUNTS:
        for a in aggregates(config, account):
            hour_totals[(account, a["window_start_ms"])] += Decimal(a["unblended_cost"])
    for dimension in ("customer", "feature"):  # every account-hour's units add up to its total, exactly
        sums: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
        for u in (u for u in units if u["dimension"] == dimension):
            sums[(u["account_id"], u["window_start_ms"])] += Decimal(u["total_cost"])
        assert sums == hour_totals
    customers = [u for u in units if u["dimension"] == "customer" and u["account_id"] == MAPPED]
    october_ms = OCTOBER.timestamp() * 1000
    assert {u["unit"] for u in customers if u["window_start_ms"] < october_ms} == {"(shared)"}
    assert (
        {"web", "data"}
        <= {u["unit"] for u in customers if u["window_start_ms"] >= october_ms}
        <= {"web", "data", "(shared)"}
    )
    web_total = sum(Decimal(u["total_cost"]) for u in customers if u["unit"] == "web")
    assert status == 200 and abs(Decimal(web["data"]["getCostByCustomer"]["totalUsd"]) - web_total) < Decimal("0.01")
    assert Decimal(web["data"]["getCostByCustomer"]["allocatedUsd"]) > 0  # its share of the untagged cost


def settings_applied(config: Config, job_id: str) -> float:
    """Changes every settings lookup of the job has applied (its gauge ``account_settings_applied``; 0 before)."""
    applied = []
    for vertex in rest(config, f"/jobs/{job_id}").get("vertices", []):
        path = f"/jobs/{job_id}/vertices/{vertex['id']}/metrics"
        names = [m["id"] for m in rest(config, path) if m["id"].endswith(".spendstream.account_settings_applied")]
        applied += [float(m["value"]) for m in (rest(config, f"{path}?get={','.join(names)}") if names else ())]
    return min(applied, default=0.0)
