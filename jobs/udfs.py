"""The Python functions the cost aggregation job calls, and why each one is Python.

None of them runs per event: decoding is the Java function of jobs/java and enrichment is
compiled SQL (jobs/enrichment_sql.py), and filtering, hourly windows, exact decimal sums and
running budget totals are Flink's native SQL operators. Python encodes the outputs
(aggregates, alerts, dead letters), which are orders of magnitude fewer than events, with the
same Avro codec every other spendstream component uses.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal

from pyflink.common import Row
from pyflink.table import DataTypes
from pyflink.table.udf import TableFunction, udf, udtf

from connectors.dead_letters import dead_letter
from pipelines.account_settings import ChangedAccounts
from pipelines.aggregates import CostAggregate, plain_decimal
from pipelines.budgets import Budget, BudgetCrossing, crossings
from pipelines.enrichment import AccountDirectory
from pipelines.unit_costs import AllocationRule, allocate, unit_cost_record
from schemas import SchemaName, codec

KEY_VALUE_ROW = DataTypes.ROW([DataTypes.FIELD("k", DataTypes.BYTES()), DataTypes.FIELD("v", DataTypes.BYTES())])


def epoch_ms(moment: datetime) -> int:
    """Window bounds arrive as naive UTC datetimes (the job sets table.local-time-zone to UTC)."""
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


@udf(result_type=KEY_VALUE_ROW)
def encode_aggregate(
    scope: str,
    window_start: datetime,
    window_end: datetime,
    account_id: str,
    account_name: str,
    service: str,
    region: str,
    charge_type: str,
    cost_center: str,
    project: str,
    environment: str,
    team: str,
    currency: str,
    unblended_cost: str,
    net_cost: str,
    line_items: int,
) -> Row:
    aggregate = CostAggregate(
        scope,
        epoch_ms(window_start),
        epoch_ms(window_end),
        account_id,
        account_name,
        service,
        region,
        charge_type,
        cost_center,
        project,
        environment,
        team,
        currency,
        plain_decimal(unblended_cost),
        plain_decimal(net_cost),
        line_items,
    )
    return Row(account_id.encode(), codec().encode(SchemaName.COST_AGGREGATE, aggregate.to_record()))


@udf(result_type=DataTypes.BYTES())
def encode_dead_letter(source: str, partition: int, offset: int, payload: bytes, reason: str) -> bytes:
    return dead_letter("job", source, reason, payload, partition, offset)


class BudgetAlerts(TableFunction):
    """Turns running daily/monthly totals into one alert per budget threshold crossing."""

    def __init__(self, directory: AccountDirectory) -> None:
        self.accounts = ChangedAccounts(directory)

    def eval(
        self,
        account_id: str,
        service: str,
        period: str,
        period_start: str,
        hour_end: datetime,
        hour_total: str,
        hour_usage: str,
        running_total: str,
        running_usage: str,
        settings_version: int | None,
        settings_entry: str | None,
    ):
        directory = self.accounts.directory(account_id, settings_version, settings_entry)
        for budget in directory.budgets(account_id):
            if budget.period != period or budget.service != service:
                continue
            hour, after = (hour_usage, running_usage) if budget.basis == "usage" else (hour_total, running_total)
            after_d = Decimal(after)
            for crossing in crossings(
                account_id, budget, period_start, after_d - Decimal(hour), after_d, epoch_ms(hour_end)
            ):
                yield Row(crossing.alert_id.encode(), self._encode(crossing, budget, directory))

    def _encode(self, crossing: BudgetCrossing, budget: Budget, directory: AccountDirectory) -> bytes:
        name = directory.account_name(crossing.account_id)
        pct = f"{crossing.threshold * 100:.0f}%"
        spent = plain_decimal(str(crossing.after))
        whose = name if budget.service == "*" else f"{name} {budget.service}"
        return codec().encode(
            SchemaName.ALERT,
            {
                "alert_id": crossing.alert_id,
                "kind": "budget",
                "severity": crossing.severity,
                "account_id": crossing.account_id,
                "account_name": name,
                "service": budget.service,
                "window_start_ms": period_start_ms(crossing.period_start),
                "window_end_ms": crossing.at_ms,
                "title": f"{whose}: {budget.period} budget {pct} reached",
                "message": (
                    f"{whose} ({crossing.account_id}) spent {spent} {budget.basis} cost in the {budget.period} "
                    f"period starting {crossing.period_start}, crossing {pct} of its {budget.amount} budget."
                ),
                "details": {
                    "period": budget.period,
                    "period_start": crossing.period_start,
                    "basis": budget.basis,
                    "budget": str(budget.amount),
                    "threshold_pct": str(crossing.threshold * 100),
                    "limit": plain_decimal(str(crossing.limit)),
                    "actual": spent,
                },
            },
        )


def period_start_ms(period_start: str) -> int:
    """``2026-10-15`` or ``2026-10`` → epoch ms of its first instant, UTC."""
    text = period_start if len(period_start) == 10 else f"{period_start}-01"
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


class UnitCosts(TableFunction):
    """An account-hour's customers (or features), its untagged cost allocated: one record each.

    Python because the allocation is per account-hour (aggregates, never events): the rows come
    as one listing per account-hour (``units``: base64 unit ':' exact cost, comma-separated; an
    empty unit is the untagged cost), so every unit of the hour is allocated together.
    """

    def __init__(self, directory: AccountDirectory) -> None:
        self.accounts = ChangedAccounts(directory)

    def eval(
        self,
        dimension: str,
        account_id: str,
        currency: str,
        window_start: datetime,
        window_end: datetime,
        units: str,
        settings_version: int | None,
        settings_entry: str | None,
    ):
        directory = self.accounts.directory(account_id, settings_version, settings_entry)
        direct = listed_costs(units)
        shared = direct.pop("", Decimal(0))
        rule = directory.allocation(account_id) if dimension == "customer" else AllocationRule("none")
        window = (epoch_ms(window_start), epoch_ms(window_end))
        name = directory.account_name(account_id)
        for cost in allocate(direct, shared, rule):
            record = unit_cost_record(dimension, account_id, name, currency, window, cost, rule.kind)
            yield Row(account_id.encode(), codec().encode(SchemaName.UNIT_COST, record))


def listed_costs(units: str) -> dict[str, Decimal]:
    """``base64(unit):cost,...`` (the job's LISTAGG) → {unit: cost}."""
    costs: dict[str, Decimal] = {}
    for item in filter(None, units.split(",")):
        encoded, cost = item.rsplit(":", 1)
        unit = base64.b64decode(encoded).decode()
        costs[unit] = costs.get(unit, Decimal(0)) + Decimal(cost)
    return costs


def unit_costs(directory: AccountDirectory):
    return udtf(UnitCosts(directory), result_types=[DataTypes.BYTES(), DataTypes.BYTES()])


def budget_alerts(directory: AccountDirectory):
    return udtf(BudgetAlerts(directory), result_types=[DataTypes.BYTES(), DataTypes.BYTES()])
