"""Marks people give anomaly alerts, counted per service as the thresholds use them."""

from __future__ import annotations

from spendstream.alert_feedback import false_positives


def label(alert: str, verdict: str, service: str = "AmazonEC2", account: str = "1", kind: str = "anomaly") -> dict:
    return {"alert_id": alert, "verdict": verdict, "service": service, "account_id": account, "kind": kind}


def test_false_positives_count_the_standing_verdicts_of_one_accounts_anomaly_alerts():
    labels = [
        label("a", "false_positive"),
        label("b", "false_positive"),
        label("c", "confirmed"),
        label("d", "false_positive", service="AWSLambda"),
        label("e", "false_positive", account="2"),
        label("f", "false_positive", kind="budget"),
    ]
    assert false_positives(labels, "1") == {"AWSLambda": 1, "AmazonEC2": 2}
    assert false_positives(labels, "3") == {}
