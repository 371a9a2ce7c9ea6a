"""Numbers packed as little-endian bytes: how state records keep long arrays of numbers.

An Avro array of (nullable) doubles is read and written one value at a time; a model restored
from its state record every hour or day spends most of its time there. Packed, an array is one
``bytes`` value, read with ``array.frombytes``: no per-value decode, and no code can ride in it.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable


def pack(values: Iterable[float], typecode: str) -> bytes:
    """``values`` as little-endian ``typecode`` numbers ("d": 64-bit floats, "f": 32-bit)."""
    numbers = array(typecode, values)
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers.tobytes()


def unpack(packed: bytes, typecode: str) -> array:
    """What ``pack`` wrote, as this machine's numbers."""
    numbers = array(typecode)
    numbers.frombytes(packed)
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers
