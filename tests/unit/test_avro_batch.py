"""A record batch encoded column-wise is byte for byte what the codec writes for each record."""

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.cost_event import SCALAR_FIELDS, ChargeType
from schemas import SchemaName, codec
from schemas.avro_batch import Repeated, encode_batch, varints

LONGS = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(max_size=40)
TAGS = st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)


@st.composite
def cost_records(draw) -> dict:
    record = {name: draw(TEXT) for name in SCALAR_FIELDS}
    record["usage_start_ms"], record["usage_end_ms"] = draw(LONGS), draw(LONGS)
    record["charge_type"] = draw(st.sampled_from([kind.value for kind in ChargeType]))
    record["tags"] = draw(TAGS)
    return record


@settings(max_examples=200, deadline=None)
@given(st.lists(cost_records(), min_size=1, max_size=30))
def test_a_batch_encodes_every_record_exactly_as_the_codec_does(records):
    distinct = list(dict.fromkeys(tuple(r["tags"].items()) for r in records))  # a map is written in its order
    index = np.array([distinct.index(tuple(r["tags"].items())) for r in records])
    maps = [dict(items) for items in distinct]
    columns = {
        name: pa.array([r[name] for r in records], pa.int64() if name.endswith("_ms") else pa.string())
        for name in SCALAR_FIELDS
    }
    encoded = encode_batch(SchemaName.COST_EVENT, {**columns, "tags": Repeated(index, maps)}).to_pylist()
    assert encoded == [codec().encode(SchemaName.COST_EVENT, record) for record in records]
    assert [codec().decode(payload, SchemaName.COST_EVENT) for payload in encoded] == records


@given(st.lists(LONGS, max_size=50))
def test_varints_are_avro_longs(values):
    import io

    import fastavro

    def one(value: int) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, "long", value)
        return out.getvalue()

    assert varints(np.array(values, dtype=np.int64)).to_pylist() == [one(v) for v in values]
