"""GraphQL types of account settings: what ``accountSettings`` shows and what the two mutations take.

An input field left out keeps the setting as it stands; an explicit null removes it (the
account falls back to accounts.yaml's defaults for that setting).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import strawberry

from spendstream.api.settings import StandingSettings


@strawberry.type
class TagValue:
    tag_value: str
    becomes: str


@strawberry.type
class TagRule:
    tag: str
    dimension: str
    values: list[TagValue]


@strawberry.type
class BudgetSetting:
    service: str = strawberry.field(description="'*': the account's whole spend; else one service's.")
    period: str
    amount: str
    basis: str
    thresholds: list[str]


@strawberry.type
class AnomalyThresholds:
    relative_threshold: float
    dollar_threshold: float
    z_threshold: float
    growth_threshold: float
    warmup_days: float


@strawberry.type
class AccountSettings:
    account_id: str
    version: int = strawberry.field(description="0: as accounts.yaml has it; then one more per change.")
    changed_at: datetime | None
    changed_by: str | None
    name: str
    cost_center: str | None = strawberry.field(description="null: the directory's default.")
    project: str | None
    environment: str | None
    team: str | None
    customer: str | None
    feature: str | None
    allocation_rule: str
    tag_rules: list[TagRule]
    budgets: list[BudgetSetting]
    anomaly: AnomalyThresholds


@strawberry.type
class SettingsChange:
    account_id: str
    version: int
    changed_at: datetime
    changed_by: str
    change: str
    before: strawberry.scalars.JSON
    after: strawberry.scalars.JSON


@strawberry.input
class BudgetInput:
    amount: str = strawberry.field(description='A decimal string, e.g. "2500.00".')
    basis: str = "total"
    thresholds: list[str] | None = strawberry.field(default=None, description="Fractions; default 0.8 and 1.0.")


@strawberry.input
class AnomalyThresholdsInput:
    relative_threshold: float | None = strawberry.UNSET
    dollar_threshold: float | None = strawberry.UNSET
    z_threshold: float | None = strawberry.UNSET
    growth_threshold: float | None = strawberry.UNSET
    warmup_days: float | None = strawberry.UNSET


@strawberry.input
class ServiceBudgetsInput:
    service: str
    daily: BudgetInput | None = strawberry.UNSET
    monthly: BudgetInput | None = strawberry.UNSET


@strawberry.input
class AlertThresholdsInput:
    daily: BudgetInput | None = strawberry.UNSET
    monthly: BudgetInput | None = strawberry.UNSET
    services: list[ServiceBudgetsInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Per-service budgets; the services not named keep theirs."
    )
    anomaly: AnomalyThresholdsInput | None = strawberry.UNSET


@strawberry.input
class TagValueInput:
    tag_value: str
    becomes: str


@strawberry.input
class TagRuleInput:
    tag: str
    dimension: str
    values: list[TagValueInput] = strawberry.field(default_factory=list)


@strawberry.input
class WeightInput:
    customer: str
    weight: str = strawberry.field(description="A decimal string ≥ 0.")


@strawberry.input
class AllocationInput:
    rule: str = strawberry.field(description="proportional (default), even, fixed (with weights) or none.")
    weights: list[WeightInput] | None = None


@strawberry.input
class BusinessMappingInput:
    name: str | None = strawberry.UNSET
    cost_center: str | None = strawberry.UNSET
    project: str | None = strawberry.UNSET
    environment: str | None = strawberry.UNSET
    team: str | None = strawberry.UNSET
    customer: str | None = strawberry.field(default=strawberry.UNSET, description="The whole account's customer.")
    feature: str | None = strawberry.UNSET
    tag_rules: list[TagRuleInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Dimensions: cost_center, project, environment, team, customer, feature."
    )
    allocation: AllocationInput | None = strawberry.field(
        default=strawberry.UNSET, description="How the account's untagged cost is shared among its customers."
    )


def _given(value: Any) -> dict[str, Any]:
    """An input object's fields that were sent (null included)."""
    return {key: item for key, item in vars(value).items() if item is not strawberry.UNSET}


def threshold_values(thresholds: AlertThresholdsInput) -> dict[str, Any]:
    """The change ``setAlertThresholds`` makes, in accounts.yaml's words."""
    values: dict[str, Any] = {}
    given = _given(thresholds)
    budgets = {period: _budget(given[period]) for period in ("daily", "monthly") if period in given}
    if "services" in given:
        budgets["services"] = None if given["services"] is None else {
            item.service: {period: _budget(budget) for period, budget in _given(item).items() if period != "service"}
            for item in given["services"]
        }  # fmt: skip
    if budgets:
        values["budgets"] = budgets
    if thresholds.anomaly is not strawberry.UNSET:
        values["anomaly"] = None if thresholds.anomaly is None else _given(thresholds.anomaly)
    return values


def _budget(budget: BudgetInput | None) -> dict | None:
    if budget is None:
        return None
    spec = {"amount": budget.amount, "basis": budget.basis}
    return spec if budget.thresholds is None else {**spec, "thresholds": budget.thresholds}


def mapping_values(mapping: BusinessMappingInput) -> dict[str, Any]:
    """The change ``updateBusinessMapping`` makes, in accounts.yaml's words."""
    values = _given(mapping)
    if values.get("allocation") is not None:
        allocation = values["allocation"]
        weights = {w.customer: w.weight for w in allocation.weights or []}
        values["allocation"] = {"rule": allocation.rule, **({"weights": weights} if weights else {})}
    if values.get("tag_rules") is not None:
        values["tag_rules"] = [
            {"tag": r.tag, "dimension": r.dimension, "values": {v.tag_value: v.becomes for v in r.values}}
            for r in values["tag_rules"]
        ]
    return values


def account_settings(standing: StandingSettings) -> AccountSettings:
    account = standing.account
    detector = account.anomaly
    return AccountSettings(
        account_id=account.account_id,
        version=standing.version,
        changed_at=_moment(standing.changed_at_ms),
        changed_by=standing.changed_by,
        name=account.name,
        cost_center=account.dimensions.get("cost_center"),
        project=account.dimensions.get("project"),
        environment=account.dimensions.get("environment"),
        team=account.dimensions.get("team"),
        customer=account.dimensions.get("customer"),
        feature=account.dimensions.get("feature"),
        allocation_rule=account.allocation.kind,
        tag_rules=[TagRule(tag=r.tag, dimension=r.dimension, values=_mapped(r.values)) for r in account.tag_rules],
        budgets=[
            BudgetSetting(
                service=b.service, period=b.period, amount=str(b.amount), basis=b.basis,
                thresholds=list(map(str, b.thresholds)),
            )
            for b in account.budgets
        ],
        anomaly=AnomalyThresholds(
            relative_threshold=detector.relative_threshold, dollar_threshold=detector.dollar_threshold,
            z_threshold=detector.z_threshold, growth_threshold=detector.growth_threshold,
            warmup_days=detector.warmup_days,
        ),
    )  # fmt: skip


def _mapped(values: dict[str, str]) -> list[TagValue]:
    return [TagValue(tag_value=value, becomes=becomes) for value, becomes in values.items()]


def settings_change(change: dict) -> SettingsChange:
    return SettingsChange(
        account_id=change["account_id"], version=change["version"], changed_at=_moment(change["changed_at_ms"]),
        changed_by=change["changed_by"], change=change["change"],
        before=json.loads(change["before"]), after=json.loads(change["after"]),
    )  # fmt: skip


def _moment(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime.fromtimestamp(epoch_ms / 1000, UTC)
