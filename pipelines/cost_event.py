"""The normalized cost event every export format turns into."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum


class ChargeType(StrEnum):
    """What kind of money a line item is; aggregates and budgets group by it."""

    USAGE = "usage"
    FEE = "fee"
    TAX = "tax"
    CREDIT = "credit"
    REFUND = "refund"
    DISCOUNT = "discount"
    OTHER = "other"


class PricingTerm(StrEnum):
    """How compute usage was priced; what the optimization engine needs to tell commitments from on-demand."""

    ON_DEMAND = "on_demand"
    RESERVED = "reserved"
    SAVINGS_PLAN = "savings_plan"
    SPOT = "spot"


class RejectedRow(ValueError):
    """A row that cannot become a cost event; the message is the reason users see in the DLQ."""


@dataclass(frozen=True, slots=True)
class CostEvent:
    """One line item, normalized. Costs are exact decimal strings (see schemas/cost_event.avsc)."""

    event_id: str
    source_format: str
    line_item_id: str
    billing_period: str
    usage_start_ms: int
    usage_end_ms: int
    payer_account_id: str
    usage_account_id: str
    service: str
    region: str
    resource_id: str
    line_item_type: str
    charge_type: ChargeType
    usage_type: str
    unblended_cost: str
    net_cost: str
    currency: str
    usage_amount: str
    tags: dict[str, str] = field(default_factory=dict)
    amortized_cost: str = ""
    list_cost: str = ""
    instance_type: str = ""
    pricing_term: str = ""  # PricingTerm value, or "" for charges that are not compute usage
    public_on_demand_rate: str = ""
    commitment_id: str = ""

    def to_record(self) -> dict:
        """The Avro record (enum as its symbol); a shallow copy, as ``asdict`` deep-copies and is slow."""
        record = {name: getattr(self, name) for name in self.__slots__}
        record["charge_type"] = self.charge_type.value
        record["tags"] = dict(self.tags)
        return record


def event_id(source_format: str, line_item_id: str, start_ms: int, end_ms: int) -> str:
    """Deterministic id: the same line item in the same interval always gets the same id."""
    key = f"{source_format}|{line_item_id}|{start_ms}|{end_ms}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def exact_decimal(text: str, column: str, *, required: bool = True) -> str:
    """Validate a money or quantity column and return it as a plain (non-exponent) decimal string."""
    text = text.strip()
    if not text:
        if required:
            raise RejectedRow(f"{column} is empty")
        return "0"
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RejectedRow(f"{column} is not a decimal number: {text[:40]!r}") from None
    if not value.is_finite():
        raise RejectedRow(f"{column} is not finite: {text[:40]!r}")
    if value.copy_abs() >= MONEY_LIMIT:  # abs() would round to the context first (28 digits)
        raise RejectedRow(f"{column} is implausibly large: {text[:40]!r}")
    if decimal_places(value) > MONEY_DECIMALS:
        raise RejectedRow(f"{column} has more than {MONEY_DECIMALS} decimal places: {text[:40]!r}")
    return format(value, "f")


def timestamp_ms(text: str, column: str) -> int:
    """ISO-8601 timestamp (``Z`` or offset; naive means UTC) to epoch milliseconds."""
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise RejectedRow(f"{column} is not an ISO-8601 timestamp: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def currency(text: str) -> str:
    """An ISO-4217-shaped currency code."""
    code = text.strip().upper() or "USD"
    if len(code) != 3 or not code.isalpha():
        raise RejectedRow(f"line_item_currency_code is not a currency code: {text[:20]!r}")
    return code


def resource_tags(text: str) -> dict[str, str]:
    """The ``resource_tags`` JSON object (CUR 2.0 keys such as ``user_team``); empty when absent."""
    if not text.strip():
        return {}
    try:
        tags = json.loads(text)
    except json.JSONDecodeError as error:
        raise RejectedRow(f"resource_tags is not valid JSON: {error.msg}") from None
    if not isinstance(tags, dict):
        raise RejectedRow("resource_tags is not a JSON object")
    return {str(key): "" if value is None else str(value) for key, value in tags.items()}


# The one money rule, shared with the job's Java decoder (DecodeCostEvent.money): the job sums in
# DECIMAL(38, 18), so a value must have at most 18 decimal places (trailing zeros aside) and stay
# below 1e15 — every input row is either held exactly everywhere or refused everywhere.
MONEY_LIMIT = Decimal("1e15")
MONEY_DECIMALS = 18


def decimal_places(value: Decimal) -> int:
    """Decimal places of ``value`` once trailing zeros are dropped (without rounding to a context)."""
    _, digits, exponent = value.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant:
        return 0
    return max(0, -(exponent + len(digits) - len(significant)))


# The fields of a cost event held as one column each in a CostEventBatch (all but the tags).
SCALAR_FIELDS = tuple(name for name in CostEvent.__slots__ if name != "tags")


@dataclass
class CostEventBatch:
    """The events of one record batch of an export, a column per field, and the rows it refused.

    ``tags`` are few distinct maps: each event's index into ``tag_maps``. ``rows`` says which
    input row each event came from; ``rejected`` maps an input row to its reason.
    """

    columns: dict  # field name → pyarrow Array (strings; longs for the *_ms fields)
    tag_index: object  # numpy int array, one per event
    tag_maps: list[dict[str, str]]
    rows: object  # numpy int array, one per event
    rejected: dict[int, str]

    def __len__(self) -> int:
        return len(self.rows)

    def events(self) -> list[CostEvent]:
        """The batch as CostEvent objects (for the batch commands that work event by event)."""
        values = [self.columns[name].to_pylist() for name in SCALAR_FIELDS]
        charge_type = SCALAR_FIELDS.index("charge_type")
        events = []
        for fields, tags in zip(zip(*values, strict=True), self.tag_index.tolist(), strict=True):
            record = dict(zip(SCALAR_FIELDS, fields, strict=True))
            record["charge_type"] = ChargeType(fields[charge_type])
            events.append(CostEvent(**record, tags=dict(self.tag_maps[tags])))
        return events
