"""Records as the next version of a schema would write them (schemas/README.md rules)."""

from __future__ import annotations

import io
import json

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas import SchemaName
from schemas.codec import SCHEMA_DIR


def next_version(schema: dict) -> dict:
    """What the next version may add under schemas/README.md: a last top-level optional field, enum symbols.

    Nested records never change (an old reader could not skip a field added inside one).
    """
    newer = with_next_symbols(schema)
    return {**newer, "fields": [*newer["fields"], {"name": "added_field", "type": ["null", "string"], "default": None}]}


def with_next_symbols(schema):
    if isinstance(schema, list):
        return [with_next_symbols(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    newer = {key: with_next_symbols(value) for key, value in schema.items()}
    if schema.get("type") == "enum":
        newer["symbols"] = [*schema["symbols"], "added_in_next_version"]
    return newer


def encode_as(schema_json: dict, record: dict) -> bytes:
    schema = fastavro.parse_schema(schema_json, named_schemas={})
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, record)
    return b"\xc3\x01" + bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")) + body.getvalue()


def encode_next(name: SchemaName, record: dict) -> bytes:
    """``record`` (plus the added field) as the next version of schema ``name`` writes it."""
    current = json.loads((SCHEMA_DIR / f"{name.value}.avsc").read_text())
    return encode_as(next_version(current), {"added_field": "from the future", **record})
