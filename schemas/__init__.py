"""Avro schemas of every record spendstream puts on the wire, and the one codec that reads them."""

from schemas.codec import AvroCodec, SchemaName, codec

__all__ = ["AvroCodec", "SchemaName", "codec"]
