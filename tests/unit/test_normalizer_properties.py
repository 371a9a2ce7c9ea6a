"""Property tests of every normalizer, over 10,000 generated rows per run (3,400 per format).

Whatever a row holds, a normalizer returns a valid event or rejects it with a reason — no other
exception escapes — and a kept row keeps its money exactly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.columns import event_ids
from pipelines.cost_event import RejectedRow, event_id
from pipelines.formats import FORMATS
from schemas import SchemaName, codec

EXAMPLES = 3400
# Money up to the edges of the one money rule (pipelines/cost_event.py): below 1e15, 18 decimal places.
LARGEST = Decimal("999999999999999.999999999999999999")
GOOD_MONEY = st.one_of(
    # built from integers: st.decimals rounds values of more than 28 digits to the decimal context
    st.integers(-(10**33 - 1), 10**33 - 1).map(lambda n: Decimal(f"{n}E-18")),  # up to ±LARGEST
    st.integers(-(10**12), 10**12).map(lambda n: Decimal(f"{n}E-6")),
    st.sampled_from(
        [LARGEST, LARGEST.copy_negate(), Decimal("1E-18"), Decimal("-0"), Decimal("1.5E+3"), Decimal("0E-30")]
    ),
)
BAD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "1e400",
        "1e-400",
        "12,5",
        "0x1F",
        "١٢",
        "\ufeff1.0",
        "1.0\r\n",
        "null",
        "NULL",
        "[]",
        "{",
        '{"a": 1',
        "2026-13-45T00:00:00Z",
        "2026-02-30",
        "yesterday",
        "\x00",
        "\ud7ff",
        "-0",
        "+5",
        ".5",
        "5.",
        "9" * 400,
        "1E15",
        "-1000000000000000",
        "0.0000000000000000001",
        "1.0000000000000000001",
    ]
)
ANY_TEXT = st.one_of(BAD_TEXT, st.text(max_size=30), GOOD_MONEY.map(str))
TIMES = st.one_of(  # as Python writes them, and in the exports' shapes (the columnar fast path)
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.000Z")),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.0+)?Z?\Z"),  # impossible dates too
)
TAGS = st.one_of(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4).map(json.dumps), BAD_TEXT)

COLUMNS = {
    "cur2": {
        "identity_line_item_id": "id",
        "line_item_usage_start_date": "start",
        "line_item_usage_end_date": "end",
        "line_item_usage_account_id": "account",
        "line_item_line_item_type": "type",
        "line_item_unblended_cost": "cost",
        "line_item_net_unblended_cost": "cost2",
        "line_item_usage_amount": "amount",
        "line_item_currency_code": "currency",
        "resource_tags": "tags",
    },
    "cur1": {
        "identity/LineItemId": "id",
        "lineItem/UsageStartDate": "start",
        "lineItem/UsageEndDate": "end",
        "lineItem/UsageAccountId": "account",
        "lineItem/LineItemType": "type",
        "lineItem/UnblendedCost": "cost",
        "lineItem/NetUnblendedCost": "cost2",
        "lineItem/UsageAmount": "amount",
        "lineItem/CurrencyCode": "currency",
        "resourceTags/user:team": "text",
    },
    "focus": {
        "Id": "id",
        "ChargePeriodStart": "start",
        "ChargePeriodEnd": "end",
        "SubAccountId": "account",
        "ChargeCategory": "category",
        "BilledCost": "cost",
        "EffectiveCost": "cost2",
        "ConsumedQuantity": "amount",
        "BillingCurrency": "currency",
        "Tags": "tags",
        "ServiceName": "text",
    },
}
GOOD = {
    "id": st.text(min_size=1, max_size=20).filter(str.strip),
    "start": TIMES,
    "end": TIMES,
    "account": st.from_regex(r"\A[0-9]{12}\Z"),
    "type": st.sampled_from(["Usage", "Tax", "Credit", "Fee", "New"]),
    "category": st.sampled_from(["Usage", "Tax", "Credit", "Purchase", "Adjustment"]),
    "cost": GOOD_MONEY.map(str),
    "cost2": GOOD_MONEY.map(str),
    "amount": GOOD_MONEY.map(str),
    "currency": st.sampled_from(["USD", "EUR", "JPY"]),
    "tags": TAGS,
    "text": st.text(max_size=20),
}


@st.composite
def rows(draw, fmt: str) -> dict[str, str]:
    row = {}
    for column, kind in COLUMNS[fmt].items():
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue  # a missing column
        row[column] = draw(ANY_TEXT if choice == 1 else GOOD[kind])
    if draw(st.booleans()):
        row[draw(st.text(max_size=8))] = draw(ANY_TEXT)  # an extra column
    return row


def check(fmt: str, row: dict[str, str]) -> None:
    try:
        event = FORMATS[fmt].normalize(row)
    except RejectedRow as reason:
        assert str(reason), "a rejection must say why"
        return
    codec().encode(SchemaName.COST_EVENT, event.to_record())  # every kept row fits the schema
    cost_column = next(c for c, kind in COLUMNS[fmt].items() if kind == "cost")
    assert Decimal(event.unblended_cost) == Decimal(row[cost_column].strip())  # money kept exactly


SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(rows("cur2"))
def test_cur2_rows_are_kept_exactly_or_rejected_with_a_reason(row):
    check("cur2", row)


@SETTINGS
@given(rows("cur1"))
def test_cur1_rows_are_kept_exactly_or_rejected_with_a_reason(row):
    check("cur1", row)


@SETTINGS
@given(rows("focus"))
def test_focus_rows_are_kept_exactly_or_rejected_with_a_reason(row):
    check("focus", row)


@st.composite
def batches(draw, fmt: str) -> list[dict[str, str]]:
    """Rows of one file: every row has every column of the file ("" where a row has none)."""
    drawn = draw(st.lists(rows(fmt), min_size=2, max_size=40))
    columns = list(dict.fromkeys(column for row in drawn for column in row)) or ["note"]  # a file has a header
    return [{column: row.get(column, "") for column in columns} for row in drawn]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FORMATS)).flatmap(lambda fmt: st.tuples(st.just(fmt), batches(fmt))))
def test_a_batch_gives_every_row_the_answer_it_gets_alone(case):
    """Normalizing a record batch at a time never mixes rows up: the same event or reason per row."""
    fmt, batch_rows = case
    batch = FORMATS[fmt].normalize_batch(pa.Table.from_pylist(batch_rows))
    events = iter(batch.events())
    for index, row in enumerate(batch_rows):
        try:
            alone = FORMATS[fmt].normalize(row)
        except RejectedRow as reason:
            assert batch.rejected.get(index) == str(reason)
        else:
            assert index not in batch.rejected and next(events) == alone
    assert next(events, None) is None
    assert list(batch.rows) == [i for i in range(len(batch_rows)) if i not in batch.rejected]


START_TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1))
VALID = {
    **GOOD,
    "tags": st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4).map(json.dumps),
    "text": st.text(min_size=1, max_size=20).filter(str.strip),
}


@st.composite
def valid_rows(draw, fmt: str) -> dict[str, str]:
    """Rows with every column present and well formed, the hour ending after it starts."""
    start = draw(START_TIMES).replace(tzinfo=UTC)
    row = {column: draw(VALID[kind]) for column, kind in COLUMNS[fmt].items() if kind not in ("start", "end")}
    times = {kind: column for column, kind in COLUMNS[fmt].items() if kind in ("start", "end")}
    row[times["start"]] = start.isoformat()
    row[times["end"]] = (start + timedelta(hours=1)).isoformat()
    return row


@given(st.sampled_from(sorted(FORMATS)).flatmap(lambda fmt: st.tuples(st.just(fmt), valid_rows(fmt))))
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_well_formed_row_is_kept(case):
    """The properties above hold even for a normalizer that rejects everything: valid rows must pass."""
    fmt, row = case
    event = FORMATS[fmt].normalize(row)
    cost_column = next(c for c, kind in COLUMNS[fmt].items() if kind == "cost")
    assert Decimal(event.unblended_cost) == Decimal(row[cost_column])


@given(st.lists(st.tuples(st.text(max_size=20), st.integers(-(2**62), 2**62), st.integers(-(2**62), 2**62))))
def test_event_ids_of_a_column_are_the_event_id_of_each_row(keys):
    ids, starts, ends = (list(column) for column in zip(*keys, strict=True)) if keys else ([], [], [])
    column = event_ids("focus", pa.array(ids, pa.string()), pa.array(starts, pa.int64()), pa.array(ends, pa.int64()))
    assert column.to_pylist() == [event_id("focus", *key) for key in keys]


def test_arrow_trims_exactly_the_whitespace_python_strips_for_every_code_point():
    """The columnar normalizers trim with Arrow and the row rules with str.strip(): they must agree."""
    points = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    values = [f"{c}x{c}" for c in points]
    assert pc.utf8_trim_whitespace(pa.array(values)).to_pylist() == [value.strip() for value in values]


def test_a_rule_of_many_columns_of_many_values_gets_each_rows_own_values():
    """Five columns of 10,000 distinct values: 10^20 combinations, more than an int64 key could number."""
    from pipelines.columns import mapped

    columns = [pa.array([f"{column}-{row}" for row in range(10_000)]) for column in range(5)]
    joined = mapped(lambda *values: "|".join(values), *columns)
    assert joined.to_pylist() == ["|".join(f"{column}-{row}" for column in range(5)) for row in range(10_000)]
