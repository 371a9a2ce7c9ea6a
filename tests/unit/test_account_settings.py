"""Changing an account's settings: what a change touches, what it refuses, and how the job reads it."""

from __future__ import annotations

import json

import pytest

from pipelines.account_settings import ALERT_THRESHOLDS, BUSINESS_MAPPING, ChangedAccounts, changed_entry
from pipelines.enrichment import directory_from_document

BEFORE = {
    "name": "payments",
    "cost_center": "CC-1",
    "budgets": {"monthly": {"amount": "900"}, "services": {"AmazonEC2": {"daily": {"amount": "20"}}}},
    "anomaly": {"relative_threshold": 0.4},
}


def test_thresholds_change_key_by_key_and_null_removes():
    after = changed_entry(
        "1", BEFORE, ALERT_THRESHOLDS,
        {"budgets": {"daily": {"amount": "30"}, "services": {"AWSLambda": {"daily": {"amount": "5"}}}},
         "anomaly": {"dollar_threshold": 3.0}},
    )  # fmt: skip
    assert after["budgets"] == {
        "monthly": {"amount": "900"},
        "daily": {"amount": "30"},
        "services": {"AmazonEC2": {"daily": {"amount": "20"}}, "AWSLambda": {"daily": {"amount": "5"}}},
    }
    assert after["anomaly"] == {"relative_threshold": 0.4, "dollar_threshold": 3.0}
    assert after["name"] == "payments"  # the business mapping is not the thresholds' to change
    removed = changed_entry("1", after, ALERT_THRESHOLDS, {"budgets": {"services": {"AmazonEC2": None}}})
    assert removed["budgets"]["services"] == {"AWSLambda": {"daily": {"amount": "5"}}}
    assert "budgets" not in changed_entry("1", BEFORE, ALERT_THRESHOLDS, {"budgets": None})


def test_a_mapping_replaces_what_it_names():
    rules = [{"tag": "team", "dimension": "project"}]
    after = changed_entry("1", BEFORE, BUSINESS_MAPPING, {"cost_center": "CC-2", "tag_rules": rules, "name": None})
    assert after["cost_center"] == "CC-2" and after["tag_rules"] == rules and "name" not in after
    assert after["budgets"] == BEFORE["budgets"]


@pytest.mark.parametrize(
    ("change", "values", "reason"),
    [
        (ALERT_THRESHOLDS, {"budgets": {"daily": {"amount": "-5"}}}, "positive"),
        (ALERT_THRESHOLDS, {"budgets": {"daily": {"amount": "5", "thresholds": ["NaN"]}}}, "positive"),
        (ALERT_THRESHOLDS, {"budgets": {"weekly": {"amount": "5"}}}, "'daily' or 'monthly'"),
        (ALERT_THRESHOLDS, {"anomaly": {"relative_threshold": -1}}, "not negative"),
        (ALERT_THRESHOLDS, {"anomaly": {"warmup_days": 40}}, "between 1 and 14"),
        (ALERT_THRESHOLDS, {"cost_center": "x"}, "cannot set cost_center"),
        (BUSINESS_MAPPING, {"tag_rules": [{"tag": "t", "dimension": "galaxy"}]}, "dimension"),
        (BUSINESS_MAPPING, {"tag_rules": [{"tag": "a", "dimension": "team"}, {"tag": "b", "dimension": "team"}]},
         "one tag rule per dimension"),
        (BUSINESS_MAPPING, {"cost_center": "  "}, "non-empty"),
        ("delete_account", {}, "unknown change"),
    ],
)  # fmt: skip
def test_what_accounts_yaml_would_refuse_is_refused_with_the_reason(change, values, reason):
    with pytest.raises(ValueError, match=reason):
        changed_entry("1", BEFORE, change, values)


def test_the_job_reads_each_accounts_entry_once_per_version_and_never_fails_on_one():
    base = directory_from_document({"accounts": {"1": {"name": "from yaml"}}})
    accounts = ChangedAccounts(base)
    assert accounts.directory("1", None, None) is base
    changed = accounts.directory("1", 3, json.dumps({"name": "renamed", "budgets": {"daily": {"amount": "7"}}}))
    assert changed.account_name("1") == "renamed" and [b.amount for b in changed.budgets("1")] == [7]
    assert accounts.directory("1", 3, "not even json, but version 3 is known") is changed
    assert accounts.directory("1", 4, json.dumps({"budgets": {"daily": {"amount": "-1"}}})) is base
