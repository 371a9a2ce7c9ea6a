"""Unit costs: an account's hour split by customer (or feature), its shared cost allocated, exactly.

Cost tagged with a customer is that customer's. The account's untagged cost in the hour
(shared infrastructure, fees, taxes, credits) is allocated among its customers by the
account's rule: in proportion to their tagged cost in that hour (the default), evenly among the
customers with tagged cost, or by fixed weights. Every share is rounded down to a micro-dollar,
the micro-dollars left over go to the largest remainders and the amount's digits below a
micro-dollar to the largest share, so the customers' totals add up to the account's total
exactly. An hour with no customer to allocate to keeps its untagged cost as ``SHARED``, so
nothing is ever dropped.
"""

from __future__ import annotations

import decimal
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

SHARED = "(shared)"
RULES = ("proportional", "even", "fixed", "none")  # none: untagged cost stays SHARED
MICRO = Decimal("0.000001")
EXACT = decimal.Context(prec=80)  # 1e15 with 18 decimal places, times a weight, never rounds


@dataclass(frozen=True)
class AllocationRule:
    """How an account's untagged cost is shared among its customers (accounts.yaml ``allocation``)."""

    kind: str = "proportional"
    weights: Mapping[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_config(cls, entry: Mapping[str, Any] | None, where: str) -> AllocationRule:
        """``{rule: proportional}``, ``even``, ``none`` or ``{rule: fixed, weights: {customer: 2, …}}``."""
        entry = entry or {}
        kind = entry.get("rule", "proportional")
        if kind not in RULES:
            raise ValueError(f"{where}: allocation rule {kind!r} must be one of {', '.join(RULES)}")
        try:
            weights = {str(unit): Decimal(str(weight)) for unit, weight in (entry.get("weights") or {}).items()}
        except decimal.InvalidOperation:
            raise ValueError(f"{where}: allocation weights must be numbers (got {entry.get('weights')})") from None
        if kind == "fixed" and (not weights or not all(w.is_finite() and w >= 0 for w in weights.values())):
            raise ValueError(f"{where}: a fixed allocation needs weights ≥ 0 per customer, e.g. {{acme: 2, globex: 1}}")
        if kind != "fixed" and weights:
            raise ValueError(f"{where}: weights are for the fixed rule only")
        return cls(kind, weights)


@dataclass(frozen=True, slots=True)
class UnitCost:
    """One customer's (or feature's) cost in an hour: tagged to it, and allocated to it."""

    unit: str
    direct: Decimal
    allocated: Decimal

    @property
    def total(self) -> Decimal:
        return EXACT.add(self.direct, self.allocated)


def allocate(direct: Mapping[str, Decimal], shared: Decimal, rule: AllocationRule) -> list[UnitCost]:
    """Each unit's direct cost and share of ``shared``; the totals add up to Σ direct + shared exactly."""
    weights = _weights(direct, rule)
    if not weights:
        kept = [UnitCost(unit, cost, Decimal(0)) for unit, cost in sorted(direct.items())]
        return [*kept, UnitCost(SHARED, Decimal(0), shared)] if shared else kept
    shares = split(shared, weights)
    units = sorted(set(direct) | set(shares))
    return [UnitCost(unit, direct.get(unit, Decimal(0)), shares.get(unit, Decimal(0))) for unit in units]


def split(amount: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """``amount`` in proportion to ``weights`` (their sum > 0), to the micro-dollar, summing to it exactly."""
    total = exact_sum(weights.values())
    raw = {unit: EXACT.divide(EXACT.multiply(amount, weight), total) for unit, weight in weights.items()}
    shares = {unit: value.quantize(MICRO, rounding=decimal.ROUND_FLOOR, context=EXACT) for unit, value in raw.items()}
    left = EXACT.subtract(amount, exact_sum(shares.values()))
    by_remainder = sorted(raw, key=lambda unit: (-EXACT.subtract(raw[unit], shares[unit]), unit))
    micros = int(EXACT.divide(left, MICRO).to_integral_value(rounding=decimal.ROUND_HALF_EVEN))
    for unit in by_remainder[:micros]:
        shares[unit] = EXACT.add(shares[unit], MICRO)
    largest = max(sorted(shares), key=lambda unit: weights[unit])
    shares[largest] = EXACT.add(shares[largest], EXACT.subtract(amount, exact_sum(shares.values())))
    return shares


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = Decimal(0)
    for value in values:
        total = EXACT.add(total, value)
    return total


def _weights(direct: Mapping[str, Decimal], rule: AllocationRule) -> dict[str, Decimal]:
    """The units that share the untagged cost and their weights; {} when there is none to share with."""
    if rule.kind == "none":
        return {}
    if rule.kind == "fixed":
        weights = {unit: weight for unit, weight in rule.weights.items() if weight > 0}
    elif rule.kind == "proportional":
        weights = {unit: cost for unit, cost in direct.items() if cost > 0}
    else:
        weights = {unit: Decimal(1) for unit, cost in direct.items() if cost}
    return weights if exact_sum(weights.values()) > 0 else {}


def unit_cost_record(
    dimension: str,
    account_id: str,
    account_name: str,
    currency: str,
    window: tuple[int, int],
    cost: UnitCost,
    rule: str,
) -> dict:
    """A unit's cost in one account-hour as the unit cost topic carries it (schemas/unit_cost.avsc)."""
    start_ms, end_ms = window
    key = "|".join(("unit", dimension, account_id, currency, cost.unit, str(start_ms)))
    return {
        "cost_id": hashlib.sha256(key.encode()).hexdigest()[:32],
        "dimension": dimension,
        "unit": cost.unit,
        "account_id": account_id,
        "account_name": account_name,
        "currency": currency,
        "window_start_ms": start_ms,
        "window_end_ms": end_ms,
        "direct_cost": _plain(cost.direct),
        "allocated_cost": _plain(cost.allocated),
        "total_cost": _plain(cost.total),
        "allocation_rule": rule,
    }


def _plain(amount: Decimal) -> str:
    return format(amount.normalize(EXACT), "f") if amount else "0"
