"""Dead letters: input that could not be processed, kept with its origin and the reason."""

from __future__ import annotations

import time

from schemas import SchemaName, codec


def dead_letter(stage: str, source: str, reason: str, payload: bytes, partition: int = -1, offset: int = -1) -> bytes:
    """An Avro DeadLetter record, ready to produce to the dead-letter topic."""
    return codec().encode(
        SchemaName.DEAD_LETTER,
        {
            "stage": stage,
            "source": source,
            "partition": partition,
            "offset": offset,
            "reason": reason,
            "payload": payload,
            "failed_at_ms": int(time.time() * 1000),
        },
    )
