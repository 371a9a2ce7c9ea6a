"""Avro single-object encoding of a whole record batch at once, a column at a time.

The binary encoding of a record is its fields' encodings one after another, so a batch of records
is built column-wise: each field's bytes for every row (a zig-zag varint for a long or an enum's
index, a varint length and the UTF-8 bytes for a string), joined row by row by Arrow. Columns of
few distinct values (a map such as the tags) are encoded once per distinct value by fastavro and
repeated. Bytes are identical to ``AvroCodec.encode`` of each record (tests/unit/test_codec.py).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.codec import SchemaName, codec


@dataclass(frozen=True)
class Repeated:
    """A column of few distinct values: each row's index into ``values``."""

    index: np.ndarray
    values: list


def encode_batch(name: SchemaName, columns: Mapping[str, pa.Array | Repeated]) -> pa.BinaryArray:
    """Every row of ``columns`` (one per field of the record type) as a single-object Avro message."""
    avro = codec()
    schema = avro.schema(name)
    parts: list[pa.Array] = []
    for schema_field in schema["fields"]:
        values = columns[schema_field["name"]]
        parts.extend(_field(schema_field["type"], values))
    header = pa.scalar(avro.header(name), pa.binary())
    return pc.binary_join_element_wise(header, *parts, b"")


def _field(kind, values: pa.Array | Repeated) -> list[pa.Array]:
    if isinstance(values, Repeated):
        return [_repeated(kind, values)]
    if kind == "string":
        return [varints(pc.binary_length(values).to_numpy(zero_copy_only=False)), values.cast(pa.binary())]
    if kind in ("long", "int"):
        return [varints(values.to_numpy(zero_copy_only=False))]
    if isinstance(kind, dict) and kind.get("type") == "enum":
        index = pc.index_in(values, value_set=pa.array(kind["symbols"]))
        if index.null_count:
            raise ValueError(f"a value is not a symbol of {kind['name']}: {values.filter(pc.is_null(index))[0]}")
        return [varints(index.to_numpy(zero_copy_only=False).astype(np.int64))]
    raise TypeError(f"no batch encoding for Avro type {kind!r}; pass the column as Repeated values")


def _repeated(kind, values: Repeated) -> pa.Array:
    encoded = []
    for value in values.values:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, kind, value)
        encoded.append(out.getvalue())
    return pa.array(encoded, pa.binary()).take(pa.array(values.index))


def varints(values: np.ndarray) -> pa.BinaryArray:
    """Each integer as Avro's zig-zag varint (1–10 bytes), built for the whole column in numpy."""
    values = values.astype(np.int64)
    zigzag = ((values << 1) ^ (values >> 63)).astype(np.uint64)
    lengths = np.ones(len(values), dtype=np.int64)
    rest = zigzag >> np.uint64(7)
    while rest.any():
        lengths += rest > 0
        rest >>= np.uint64(7)
    width = int(lengths.max(initial=1))
    shifts = np.arange(width, dtype=np.uint64) * np.uint64(7)
    groups = (zigzag[:, None] >> shifts) & np.uint64(0x7F)
    position = np.arange(width)[None, :]
    more = (position < lengths[:, None] - 1).astype(np.uint64) << np.uint64(7)
    data = (groups | more).astype(np.uint8)[position < lengths[:, None]]
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
