"""Avro single-object encoding for every topic.

Each message is ``C3 01`` + the writer schema's 8-byte CRC-64-AVRO fingerprint + the Avro body
(Avro specification, "Single-object encoding"). The fingerprint lets any reader pick the writer
schema it was written with, so consumers keep reading older versions of a schema. A *newer*
version (unknown fingerprint) is read under the evolution rules of schemas/README.md: fields are
only appended, enum symbols only appended, so the current schema reads the known prefix and an
unknown symbol becomes the enum's default. Schemas are parsed once, here.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

MAGIC = b"\xc3\x01"
HEADER_LEN = 10
SCHEMA_DIR = Path(__file__).resolve().parent
UNKNOWN_SYMBOLS = 64  # enum symbols a newer writer may have appended that this reader can absorb


class SchemaName(StrEnum):
    """The record types spendstream writes; the value is the .avsc file stem."""

    COST_EVENT = "cost_event"
    COST_AGGREGATE = "cost_aggregate"
    ALERT = "alert"
    ALERT_LABEL = "alert_label"
    ACCOUNT_SETTINGS = "account_settings"
    UNIT_COST = "unit_cost"
    DEAD_LETTER = "dead_letter"
    METRIC_EVENT = "metric_event"
    RESOURCE_UTILIZATION = "resource_utilization"
    ANOMALY = "anomaly"
    FORECAST = "forecast"
    FORECAST_ACCURACY = "forecast_accuracy"
    RECOMMENDATION = "recommendation"
    OPTIMIZATION_EVENT = "optimization_event"
    SERIES_MONITOR_STATE = "series_monitor_state"  # Flink keyed state of the analytics, not a topic
    ACCOUNT_MONITOR_STATE = "account_monitor_state"
    ACCOUNT_OPTIMIZER_STATE = "account_optimizer_state"


@dataclass(frozen=True)
class SchemaVersion:
    """One readable version of a record type: its single-object header and its schema as written."""

    header: bytes
    name: SchemaName
    schema: dict[str, Any]
    current: bool


class UnknownSchemaError(ValueError):
    """The payload is not single-object Avro written with a schema this build knows."""


class AvroCodec:
    """Encodes records with the current schema of their kind; decodes any known version."""

    def __init__(self, schema_dir: Path = SCHEMA_DIR) -> None:
        self._current: dict[SchemaName, dict] = {}
        self._fingerprints: dict[SchemaName, bytes] = {}
        self._writers: dict[bytes, tuple[SchemaName, dict]] = {}
        self._newer: dict[SchemaName, dict] = {}
        self._versions: list[SchemaVersion] = []
        for name in SchemaName:
            self._register(name, schema_dir / f"{name.value}.avsc", current=True)
            newer = _with_unknown_symbols(json.loads((schema_dir / f"{name.value}.avsc").read_text()))
            self._newer[name] = fastavro.parse_schema(newer, named_schemas={})
        for path in sorted((schema_dir / "history").glob("*.avsc")):
            name = SchemaName(path.stem.split("@")[0])
            self._register(name, path, current=False)

    def _register(self, name: SchemaName, path: Path, *, current: bool) -> None:
        source = json.loads(path.read_text())
        parsed = fastavro.parse_schema(source, named_schemas={})
        header = MAGIC + bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
        self._writers[header] = (name, parsed)
        self._versions.append(SchemaVersion(header, name, source, current))
        if current:
            self._current[name] = parsed
            self._fingerprints[name] = header

    def versions(self) -> list[SchemaVersion]:
        """Every schema version this codec reads, with its header (what other readers must know)."""
        return list(self._versions)

    def schema(self, name: SchemaName) -> dict:
        """The parsed current schema of a record type."""
        return self._current[name]

    def header(self, name: SchemaName) -> bytes:
        """The single-object header of the current schema of a record type (magic + fingerprint)."""
        return self._fingerprints[name]

    def encode(self, name: SchemaName, record: dict[str, Any]) -> bytes:
        """Serialize ``record``; raises ValueError/TypeError when it does not fit the schema."""
        out = io.BytesIO()
        out.write(self._fingerprints[name])
        fastavro.schemaless_writer(out, self._current[name], record, strict_allow_default=True)
        return out.getvalue()

    def decode(self, payload: bytes, expected: SchemaName) -> dict[str, Any]:
        """Read a payload written with any known version of ``expected`` as the current version."""
        header = bytes(payload[:HEADER_LEN])
        writer = self._writers.get(header)
        if (writer is not None and writer[0] is not expected) or len(header) < HEADER_LEN or header[:2] != MAGIC:
            raise UnknownSchemaError(
                f"not a {expected.value} record: header {header.hex() or '(empty)'} matches no known schema version"
            )
        reader_schema = self._current[expected]
        body = io.BytesIO(payload[HEADER_LEN:])
        if writer is None:  # written by a newer version: read the fields we know (see module docstring)
            try:
                return fastavro.schemaless_reader(body, self._newer[expected], reader_schema)
            except (ValueError, EOFError, IndexError, UnicodeDecodeError) as error:
                raise UnknownSchemaError(
                    f"not a {expected.value} record: unknown schema version {header[2:].hex()} "
                    f"and its body does not read as a newer {expected.value} ({error})"
                ) from None
        if writer[1] is reader_schema:
            return fastavro.schemaless_reader(body, reader_schema, None)
        return fastavro.schemaless_reader(body, writer[1], reader_schema)


def _with_unknown_symbols(schema: Any) -> Any:
    """The schema as a newer writer may have written it: room for appended enum symbols."""
    if isinstance(schema, list):
        return [_with_unknown_symbols(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    widened = {key: _with_unknown_symbols(value) for key, value in schema.items()}
    if schema.get("type") == "enum":
        widened["symbols"] = schema["symbols"] + [f"unknown_symbol_{i}" for i in range(UNKNOWN_SYMBOLS)]
    return widened


@cache
def codec() -> AvroCodec:
    """The process-wide codec (schemas are parsed once)."""
    return AvroCodec()
