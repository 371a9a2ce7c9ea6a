"""Marks people give anomaly alerts, counted per service as the thresholds use them."""

from __future__ import annotations

from spendstream.alert_feedback import false_positives


def label(
    alert: str, verdict: str, service: str = "AmazonEC2", account: str = "1", kind: str = "anomaly", **more
) -> dict:
    marked = {"alert_id": alert, "verdict": verdict, "service": service, "account_id": account, "kind": kind}
    return {"marked_at_ms": 0, "episode_id": None, **marked, **more}


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


def test_an_anomaly_counts_once_however_many_of_its_alerts_are_marked():
    """Its open and update alerts marked false positive are one anomaly; confirming either later takes it back."""
    opened = label("open", "false_positive", episode_id="e1", marked_at_ms=1)
    update = label("update", "false_positive", episode_id="e1", marked_at_ms=2)
    other = label("other", "false_positive", episode_id="e2", marked_at_ms=3)
    assert false_positives([opened, update, other], "1") == {"AmazonEC2": 2}
    confirmed = label("update", "confirmed", episode_id="e1", marked_at_ms=4)
    assert false_positives([opened, confirmed, other], "1") == {"AmazonEC2": 1}
    older = label("open", "false_positive", episode_id="e1", marked_at_ms=0)  # marked before the confirmation
    assert false_positives([confirmed, older], "1") == {}
