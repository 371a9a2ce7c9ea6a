from decimal import Decimal

import pytest

from pipelines.budgets import Budget, crossings

DAILY = Budget.from_config("daily", {"amount": "100", "thresholds": ["0.8", "1.0"]}, where="test")


def test_a_crossing_is_reported_in_the_hour_it_happens():
    found = crossings("111", DAILY, "2026-10-15", Decimal("79.99"), Decimal("80.00"), at_ms=1)
    assert [(c.threshold, c.severity) for c in found] == [(Decimal("0.8"), "warning")]


def test_no_alert_while_below_or_after_already_above():
    assert crossings("111", DAILY, "2026-10-15", Decimal("10"), Decimal("79.99"), at_ms=1) == []
    assert crossings("111", DAILY, "2026-10-15", Decimal("85"), Decimal("95"), at_ms=1) == []


def test_one_jump_over_two_thresholds_gives_two_crossings():
    found = crossings("111", DAILY, "2026-10-15", Decimal("0"), Decimal("250"), at_ms=1)
    assert [c.severity for c in found] == ["warning", "critical"]


def test_ids_are_deterministic_per_account_period_and_threshold():
    first = crossings("111", DAILY, "2026-10-15", Decimal("0"), Decimal("90"), at_ms=1)[0]
    recomputed = crossings("111", DAILY, "2026-10-15", Decimal("50"), Decimal("81"), at_ms=2)[0]
    next_day = crossings("111", DAILY, "2026-10-16", Decimal("0"), Decimal("90"), at_ms=3)[0]
    other_account = crossings("222", DAILY, "2026-10-15", Decimal("0"), Decimal("90"), at_ms=1)[0]
    assert first.alert_id == recomputed.alert_id
    assert len({first.alert_id, next_day.alert_id, other_account.alert_id}) == 3


def test_a_services_budget_has_ids_of_its_own_and_the_accounts_keep_theirs():
    lambda_daily = Budget.from_config("daily", {"amount": "100", "thresholds": ["0.8", "1.0"]}, "test", "AWSLambda")
    account = crossings("111", DAILY, "2026-10-15", Decimal("0"), Decimal("90"), at_ms=1)[0]
    service = crossings("111", lambda_daily, "2026-10-15", Decimal("0"), Decimal("90"), at_ms=1)[0]
    assert account.alert_id != service.alert_id
    assert account.alert_id == "d843cacd41814c1dcc2e407157b3faa3"  # as before services had budgets


def test_credits_bringing_the_total_down_do_not_alert():
    assert crossings("111", DAILY, "2026-10-15", Decimal("120"), Decimal("70"), at_ms=1) == []


@pytest.mark.parametrize(
    "spec",
    [{"amount": "x"}, {"amount": "-5"}, {"amount": "5", "basis": "net"}, {}, {"amount": "Infinity"},
     {"amount": "NaN"}, {"amount": "5", "thresholds": ["0"]}, {"amount": "5", "thresholds": ["-1"]}],
)  # fmt: skip
def test_bad_budget_config_is_refused(spec):
    with pytest.raises(ValueError, match="accounts.yaml"):
        Budget.from_config("daily", spec, where="accounts.yaml")
