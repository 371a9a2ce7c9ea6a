"""Budget thresholds, and the crossings of them that deserve exactly one alert each.

A crossing is the hour in which a running total goes from below a threshold to at or above it.
A budget covers an account's whole spend or one of its services. Its id depends only on account,
service, period, period start and threshold, so a replayed or
re-delivered hour produces the same alert id and consumers can dedupe on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

Period = Literal["daily", "monthly"]
Basis = Literal["total", "usage"]
DEFAULT_THRESHOLDS = (Decimal("0.8"), Decimal("1.0"))


@dataclass(frozen=True, slots=True)
class Budget:
    """A daily or monthly amount, measured on total cost (default) or on usage only."""

    period: Period
    amount: Decimal
    basis: Basis = "total"
    thresholds: tuple[Decimal, ...] = DEFAULT_THRESHOLDS
    service: str = "*"  # the account's whole spend, or one service's

    @classmethod
    def from_config(cls, period: str, spec: Any, where: str, service: str = "*") -> Budget:
        if period not in ("daily", "monthly"):
            raise ValueError(f"{where}: budget period {period!r} must be 'daily' or 'monthly'")
        spec = spec if isinstance(spec, dict) else {"amount": spec}
        try:
            amount = Decimal(str(spec["amount"]))
            thresholds = tuple(Decimal(str(t)) for t in spec.get("thresholds", DEFAULT_THRESHOLDS))
        except (KeyError, InvalidOperation):
            raise ValueError(f"{where}: {period} budget needs a decimal 'amount' (got {spec!r})") from None
        basis = spec.get("basis", "total")
        if not all(number.is_finite() and number > 0 for number in (amount, *thresholds)):
            raise ValueError(f"{where}: {period} budget amount and thresholds must be positive numbers (got {spec!r})")
        if basis not in ("total", "usage") or not thresholds:
            raise ValueError(f"{where}: {period} budget needs amount > 0 and basis 'total' or 'usage'")
        return cls(period, amount, basis, tuple(sorted(thresholds)), service)


@dataclass(frozen=True, slots=True)
class BudgetCrossing:
    """A running total passed ``threshold`` × ``budget.amount`` in the hour ending at ``at_ms``."""

    alert_id: str
    account_id: str
    budget: Budget
    period_start: str
    threshold: Decimal
    before: Decimal
    after: Decimal
    at_ms: int

    @property
    def severity(self) -> str:
        return "critical" if self.threshold >= 1 else "warning"

    @property
    def limit(self) -> Decimal:
        return self.budget.amount * self.threshold


def crossings(
    account_id: str, budget: Budget, period_start: str, before: Decimal, after: Decimal, at_ms: int
) -> list[BudgetCrossing]:
    """Thresholds that ``before`` was under and ``after`` reaches (upward crossings only)."""
    found = []
    for threshold in budget.thresholds:
        limit = budget.amount * threshold
        if before < limit <= after:
            found.append(
                BudgetCrossing(
                    alert_id=crossing_id(account_id, budget, period_start, threshold),
                    account_id=account_id,
                    budget=budget,
                    period_start=period_start,
                    threshold=threshold,
                    before=before,
                    after=after,
                    at_ms=at_ms,
                )
            )
    return found


def crossing_id(account_id: str, budget: Budget, period_start: str, threshold: Decimal) -> str:
    key = f"budget|{account_id}|{budget.period}|{budget.basis}|{period_start}|{threshold.normalize()}"
    if budget.service != "*":  # the account's own budgets keep the ids they always had
        key += f"|{budget.service}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]
