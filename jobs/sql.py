"""SQL fragments the jobs share: string literals, how a record counts as late, how a dead letter is written."""

from __future__ import annotations


def literal(text: str) -> str:
    """A Flink SQL string literal: single quotes doubled, so no value can end it early."""
    return "'" + text.replace("'", "''") + "'"


# An event is late when the watermark has passed the end of its hour: that window has fired.
LATE = (
    "CURRENT_WATERMARK(event_time) >= FLOOR(event_time TO HOUR) + INTERVAL '1' HOUR - INTERVAL '0.001' SECOND AS late"
)


def dead_letters_sql(view: str, error: str, topic: str, what: str) -> str:
    """Rows of ``view`` whose decoding ``error`` is set, or that are late, as dead letters."""
    return (
        f"SELECT CAST(NULL AS BYTES) AS k, encode_dead_letter('{topic}', kafka_partition, kafka_offset, payload, "
        f"  COALESCE({error}, 'late: {what} time ' || CAST(event_time AS STRING) || "
        "  ' is behind the watermark of its hour; raise flink.out_of_orderness_s')) AS v "
        f"FROM {view} WHERE {error} IS NOT NULL OR late"
    )
