"""The cost job's native per-event path agrees with the Python definitions it replaces.

The Java decoder (jobs/java) must read every cost event the Python codec reads — previous,
current and next schema versions — and refuse what the codec refuses, with a reason; the
compiled enrichment SQL must give ``AccountDirectory.context``'s answer for every event. Both
run here in a real (local) Flink runtime over payloads encoded by the Python codec.
"""

from __future__ import annotations

import json
from dataclasses import astuple
from decimal import Decimal

import pytest
from pyflink.table import DataTypes, EnvironmentSettings, TableEnvironment

from jobs.cost_aggregation import register_java_function
from jobs.enrichment_sql import SETTINGS, SETTINGS_COLUMNS, context_sql
from jobs.sql import literal
from pipelines.cost_event import RejectedRow, exact_decimal
from pipelines.enrichment import TAGGED, directory_from_document
from schemas import SchemaName, codec
from schemas.codec import SCHEMA_DIR
from spendstream.java_functions import DECODE_COST_EVENT, ensure_built
from tests.integration.test_schema_evolution import cost_event, encode_previous
from tests.schema_versions import encode_as, encode_next, next_version

pytestmark = pytest.mark.integration

DIRECTORY = directory_from_document(
    {
        "defaults": {"cost_center": "cc-shared", "environment": "unknown"},
        "accounts": {
            "111": {"name": "Payments prod", "cost_center": "cc-pay", "project": "checkout"},
            "222": {"name": "O'Brien's sandbox", "environment": "sandbox"},
            "333": {},
        },
        "tag_rules": [
            {"tag": "env", "dimension": "environment", "values": {"Prod": "production", "stg": "staging"}},
            {"tag": "Environment", "dimension": "environment"},
            {"tag": "team", "dimension": "team"},
            {"tag": "cost-center", "dimension": "cost_center", "values": {"it's": "quoted"}},
            {"tag": "customer", "dimension": "customer", "values": {"acme inc": "acme"}},
        ],
    }
)
TAG_SETS = [
    {},
    {"env": "Prod"},
    {"env": "  stg "},
    {"env": "Prod", "Environment": "qa"},
    {"env": "   ", "team": "data"},
    {"Environment": "", "cost-center": "it's"},
    {"cost-center": "cc-x", "team": "  "},
    {"customer": "acme inc", "team": "search"},
    {"customer": " initech "},
]


@pytest.fixture(scope="module")
def t_env() -> TableEnvironment:
    ensure_built()
    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    env.get_config().set("parallelism.default", "1")
    register_java_function(env, "decode_cost_event", DECODE_COST_EVENT)
    return env


DECODED = (
    "e.error, e.account_id, e.service, e.region, e.charge_type, e.currency, e.unblended_cost, e.net_cost, "
    "e.resource_id, e.line_item_type, e.tags, e.usage_amount, e.amortized_cost, e.instance_type, e.pricing_term, "
    "e.public_on_demand_rate"
)


def decode_all(
    t_env: TableEnvironment, payloads: list[bytes], select: str = DECODED, settings: str | None = None
) -> list[tuple]:
    """Each payload decoded (and, with ``settings`` rows, joined to its account's settings as the job does)."""
    table = t_env.from_elements(
        [(i, bytearray(p)) for i, p in enumerate(payloads)],
        DataTypes.ROW([DataTypes.FIELD("i", DataTypes.INT()), DataTypes.FIELD("payload", DataTypes.BYTES())]),
    )
    t_env.create_temporary_view("payloads", table)
    query = f"SELECT i, {select} FROM payloads, LATERAL TABLE(decode_cost_event(payload)) AS e"
    if settings is not None:
        query += f" LEFT JOIN {settings} ON st.changed_account = e.account_id"
    with t_env.sql_query(query).execute().collect() as rows:
        result = sorted((tuple(row) for row in rows), key=lambda row: row[0])
    t_env.drop_temporary_view("payloads")
    return [row[1:] for row in result]


def expected_row(event: dict) -> tuple:
    return (
        None,
        event["usage_account_id"],
        event["service"],
        event["region"],
        event["charge_type"],
        event["currency"],
        event["unblended_cost"],
        event["net_cost"],
        event["resource_id"],
        event["line_item_type"],
        event["tags"],
        event["usage_amount"] or None,  # the optimizer's fields: an older writer's event has none
        event.get("amortized_cost") or None,
        event.get("instance_type", ""),
        event.get("pricing_term", ""),
        event.get("public_on_demand_rate") or None,
    )


def test_previous_current_and_next_versions_decode_as_the_python_codec_reads_them(t_env):
    event = {**cost_event(1), "tags": {"team": "data", "env": "Prod"}, "resource_id": "i-0abc", "net_cost": "1.1"}
    optimizer_fields = {"instance_type": "m5.large", "pricing_term": "on_demand", "public_on_demand_rate": "0.096"}
    current = codec().encode(
        SchemaName.COST_EVENT, {**event, "amortized_cost": "1.0", "list_cost": "2.0", **optimizer_fields}
    )
    future = encode_next(SchemaName.COST_EVENT, {**event, "charge_type": "added_in_next_version"})
    rows = decode_all(t_env, [encode_previous(event), current, future])
    assert rows == [
        expected_row(codec().decode(p, SchemaName.COST_EVENT)) for p in (encode_previous(event), current, future)
    ]
    assert rows[2][4] == "other"  # a charge type this build does not know yet is the enum default


def refused(t_env: TableEnvironment, payload: bytes) -> str:
    (row,) = decode_all(t_env, [payload])
    assert all(value is None for value in row[1:]), "a refused event must carry no values"
    return row[0]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "header (too short)"),
        (b"not avro at all", "matches no known schema version"),
        (
            codec().encode(
                SchemaName.DEAD_LETTER, {"stage": "s", "source": "x", "reason": "r", "payload": b"", "failed_at_ms": 1}
            ),
            "not a cost_event record",
        ),
        (codec().encode(SchemaName.COST_EVENT, cost_event(2))[:40], "ends early"),
        (codec().encode(SchemaName.COST_EVENT, {**cost_event(3), "unblended_cost": "12,50"}), "not a decimal number"),
        (codec().encode(SchemaName.COST_EVENT, {**cost_event(4), "net_cost": "1e30"}), "does not fit the money rule"),
        (
            codec().encode(SchemaName.COST_EVENT, {**cost_event(5), "net_cost": "0.0000000000000000001"}),
            "does not fit the money rule",
        ),
    ],
)
def test_what_the_codec_or_the_job_cannot_hold_exactly_is_refused_with_a_reason(t_env, payload, reason):
    error = refused(t_env, payload)
    assert error.startswith("undecodable cost event: ") and reason in error


def test_a_next_version_body_that_does_not_read_is_refused(t_env):
    newer = next_version(json.loads((SCHEMA_DIR / "cost_event.avsc").read_text()))
    payload = encode_as(newer, {**cost_event(6), "added_field": None})
    assert refused(t_env, payload[:12]).startswith("undecodable cost event: ")


# Entries changed through the API (accounts.yaml's shape), as the settings topic carries them.
CHANGED = {
    "222": {"name": "Sandbox (renamed)", "team": "platform", "environment": "sandbox", "tag_rules": [
        {"tag": "Env", "dimension": "environment", "values": {"Prod": "prod-override"}},
        {"tag": "team", "dimension": "cost_center"}]},
    "444": {"cost_center": "cc-new", "customer": "globex", "tag_rules": [{"tag": "env", "dimension": "team"},
            {"tag": "team", "dimension": "feature"}]},
    "555": {},
}  # fmt: skip
CHANGED_TAGS = [*TAG_SETS, {"Env": " Prod ", "env": "stg"}, {"Env": "dev", "team": "ops"}]


def settings_rows_sql(changed: dict[str, dict]) -> str:
    """The settings lookup's rows for these entries, as jobs/java AccountSettingsLookup fills them."""

    def text(value: str | None) -> str:
        return "CAST(NULL AS STRING)" if value is None else literal(value)

    rows = []
    for version, (account, entry) in enumerate(changed.items(), start=1):
        rules = {rule["dimension"]: rule for rule in entry.get("tag_rules", [])}
        columns = {"version": f"CAST({version} AS BIGINT)", "entry": text(json.dumps(entry))}
        columns["account_name"] = text(entry.get("name"))
        columns |= {dim: text(entry.get(dim)) for dim in TAGGED}
        columns |= {f"{dim}_tag": text(rules.get(dim, {}).get("tag")) for dim in TAGGED}
        for dim in TAGGED:
            pairs = [part for k, v in rules.get(dim, {}).get("values", {}).items() for part in (literal(k), literal(v))]
            columns[f"{dim}_values"] = f"MAP[{', '.join(pairs)}]" if pairs else "CAST(NULL AS MAP<STRING, STRING>)"
        assert list(columns) == list(SETTINGS_COLUMNS)
        rows.append(f"({literal(account)}, {', '.join(columns.values())})")
    names = ", ".join(["changed_account", *(f"{SETTINGS}{name}" for name in SETTINGS_COLUMNS)])
    return f"(VALUES {', '.join(rows)}) AS st({names})"


def test_compiled_enrichment_gives_the_directorys_answer_for_every_account_and_tag_set(t_env):
    """Accounts as accounts.yaml has them, and accounts whose entry was changed while the job runs."""
    accounts = ("111", "222", "333", "444", "555", "999")
    events = [
        {**cost_event(i), "usage_account_id": account, "tags": tags}
        for i, (account, tags) in enumerate((a, t) for a in accounts for t in CHANGED_TAGS)
    ]
    payloads = [codec().encode(SchemaName.COST_EVENT, event) for event in events]
    for changed in ({}, CHANGED):
        directory = DIRECTORY
        for account, entry in changed.items():
            directory = directory.with_entry(account, entry)
        settings = settings_rows_sql(changed or {"000": {}})
        rows = decode_all(t_env, payloads, context_sql(DIRECTORY, "e.account_id", "e.tags"), settings)
        expected = [directory.context(event["usage_account_id"], event["tags"]) for event in events]
        assert rows == [astuple(c) for c in expected]
        assert {row[3] for row in rows} >= {"production", "staging", "qa", "sandbox", "unknown"}
    assert {row[0] for row in rows} >= {"Sandbox (renamed)", "444", "555"}
    assert {row[3] for row in rows} >= {"prod-override", "dev"}
    assert {row[5] for row in rows} >= {"acme", "initech", "globex", ""}
    assert {row[6] for row in rows} >= {"search", ""}


MONEY_EDGES = [
    "999999999999999.999999999999999999",  # just below 1e15, 18 decimals
    "-999999999999999.999999999999999999",
    "1000000000000000",  # 1e15
    "-1E15",
    "1E+14",
    "0.000000000000000001",  # 18 decimals
    "0.0000000000000000001",  # 19
    "0.1000000000000000000000",  # 22 digits after the point, one decimal place once zeros are dropped
    "1.0000000000000000001",
    "-0",
    "-0.000",
    "0E-30",
    "1E-18",
    "1E-19",
    "12.5e3",
]


def test_python_normalizers_and_the_java_decoder_apply_one_money_rule(t_env):
    """Each edge value is kept by both with the same amount, or refused by both."""
    python: list[str | None] = []
    for text in MONEY_EDGES:
        try:
            python.append(exact_decimal(text, "cost"))
        except RejectedRow:
            python.append(None)
    payloads = [
        codec().encode(SchemaName.COST_EVENT, {**cost_event(10 + i), "unblended_cost": text, "net_cost": text})
        for i, text in enumerate(MONEY_EDGES)
    ]
    java = [row[6] if row[0] is None else None for row in decode_all(t_env, payloads)]
    assert [p is None for p in python] == [j is None for j in java], list(zip(MONEY_EDGES, python, java, strict=True))
    assert [Decimal(p) for p in python if p] == [Decimal(j) for j in java if j]
    assert python.count(None) == 5  # 1e15 twice, 19 decimals three times
