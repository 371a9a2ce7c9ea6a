import pytest

from schemas import SchemaName, codec
from schemas.codec import UnknownSchemaError

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
