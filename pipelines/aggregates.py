"""Aggregate records: their deterministic ids and their Avro shape.

An aggregate's id depends only on its scope, key and window, so a re-delivered or recomputed
window (at-least-once delivery, a restarted job) carries the same id and overwrites itself in
every sink instead of counting twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from decimal import Decimal

KEY_FIELDS = (
    "account_id",
    "service",
    "region",
    "charge_type",
    "cost_center",
    "project",
    "environment",
    "team",
    "currency",
)


@dataclass(frozen=True, slots=True)
class CostAggregate:
    """Cost of one key over one window (``account_id`` etc. are ``*`` for rollups)."""

    scope: str
    window_start_ms: int
    window_end_ms: int
    account_id: str
    account_name: str
    service: str
    region: str
    charge_type: str
    cost_center: str
    project: str
    environment: str
    team: str
    currency: str
    unblended_cost: str
    net_cost: str
    line_items: int

    @property
    def aggregate_id(self) -> str:
        key = "|".join([self.scope, str(self.window_start_ms), *(getattr(self, f) for f in KEY_FIELDS)])
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def to_record(self) -> dict:
        return {"aggregate_id": self.aggregate_id, **asdict(self)}


def plain_decimal(text: str) -> str:
    """``12.340000000000000000`` → ``12.34``: the exact value without padding or exponent."""
    value = Decimal(text).normalize()
    return format(value, "f") if value != 0 else "0"
