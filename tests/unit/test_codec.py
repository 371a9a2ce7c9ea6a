import pytest

from schemas import SchemaName, codec
from schemas.codec import UnknownSchemaError
from tests.schema_versions import encode_as, next_version

LETTER = {"stage": "replay", "source": "f.csv:3", "reason": "bad", "payload": b"\x00\xff", "failed_at_ms": 5}


def test_single_object_encoding_round_trip_fills_defaults():
    payload = codec().encode(SchemaName.DEAD_LETTER, LETTER)
    assert payload[:2] == b"\xc3\x01"
    assert codec().decode(payload, SchemaName.DEAD_LETTER) == {**LETTER, "partition": -1, "offset": -1}


def test_record_of_another_kind_or_garbage_is_refused():
    payload = codec().encode(SchemaName.DEAD_LETTER, LETTER)
    with pytest.raises(UnknownSchemaError, match="not a cost_event record"):
        codec().decode(payload, SchemaName.COST_EVENT)
    with pytest.raises(UnknownSchemaError):
        codec().decode(b"not avro at all", SchemaName.COST_EVENT)


def test_record_that_does_not_fit_the_schema_is_refused():
    with pytest.raises((ValueError, TypeError)):
        codec().encode(SchemaName.DEAD_LETTER, {**LETTER, "failed_at_ms": "soon"})


def test_events_written_with_the_previous_cost_event_schema_still_decode():
    import io
    import json
    from pathlib import Path

    import fastavro
    from fastavro.schema import fingerprint, to_parsing_canonical_form

    history = Path(__file__).parents[2] / "schemas" / "history" / "cost_event@1.avsc"
    old = fastavro.parse_schema(json.loads(history.read_text()), named_schemas={})
    record = {
        "event_id": "e",
        "source_format": "cur2",
        "line_item_id": "l",
        "billing_period": "2026-10",
        "usage_start_ms": 1,
        "usage_end_ms": 2,
        "payer_account_id": "p",
        "usage_account_id": "a",
        "service": "s",
        "region": "r",
        "resource_id": "",
        "line_item_type": "Usage",
        "charge_type": "usage",
        "usage_type": "u",
        "unblended_cost": "1.5",
        "net_cost": "1.5",
        "currency": "USD",
        "usage_amount": "1",
        "tags": {},
    }
    body = io.BytesIO()
    fastavro.schemaless_writer(body, old, record)
    header = b"\xc3\x01" + bytes.fromhex(fingerprint(to_parsing_canonical_form(old), "CRC-64-AVRO"))
    decoded = codec().decode(header + body.getvalue(), SchemaName.COST_EVENT)
    added = {"amortized_cost": "", "list_cost": ""}
    added |= {"instance_type": "", "pricing_term": "", "public_on_demand_rate": "", "commitment_id": ""}
    assert decoded == {**record, **added}


@pytest.mark.parametrize("name", list(SchemaName))
def test_every_schema_reads_records_of_its_next_version(name):
    """A newer producer's records (appended optional field, appended enum symbol) read as the current version."""
    import json

    from schemas.codec import SCHEMA_DIR

    current = json.loads((SCHEMA_DIR / f"{name.value}.avsc").read_text())
    sample = sample_record(codec().schema(name))
    assert codec().decode(encode_as(next_version(current), {**sample, "added_field": "x"}), name) == sample
    enums = [f for f in current["fields"] if isinstance(f["type"], dict) and f["type"]["type"] == "enum"]
    for field in enums:
        record = {**sample, field["name"]: "added_in_next_version", "added_field": None}
        decoded = codec().decode(encode_as(next_version(current), record), name)
        assert decoded == {**sample, field["name"]: field["type"]["default"]}, field["name"]


def sample_record(schema: dict) -> dict:
    """A valid record of ``schema`` with a value in every field."""
    return {field["name"]: sample_value(field["type"]) for field in schema["fields"]}


def sample_value(kind):
    if isinstance(kind, list):
        return sample_value(next(k for k in kind if k != "null"))
    if isinstance(kind, dict):
        return {
            "enum": lambda t: t["symbols"][0],
            "map": lambda t: {"k": "v"},
            "array": lambda t: [sample_value(t["items"])],
            "record": sample_record,
        }[kind["type"]](kind)
    return {"string": "s", "long": 7, "int": 3, "double": 1.5, "bytes": b"\x01", "boolean": True}[kind]


def test_a_newer_looking_header_with_a_body_that_does_not_read_is_refused():
    with pytest.raises(UnknownSchemaError, match="unknown schema version"):
        codec().decode(b"\xc3\x01" + b"\x00" * 8 + b"\xff", SchemaName.DEAD_LETTER)
