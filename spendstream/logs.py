"""Logging for the spendstream processes: text for people, one JSON object per line for collectors.

Errors about a record carry where it came from (``extra=record_context(record)``): topic,
partition and offset, so an operator can find it again with any Kafka tool. Every line names
the job (the command that runs), so logs of several processes can be told apart once shipped.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

CONTEXT_FIELDS = ("topic", "partition", "offset")


def record_context(record: Any) -> dict[str, Any]:
    """The ``extra`` of a log call about one Kafka record (a kafka-python ConsumerRecord)."""
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


class JsonFormatter(logging.Formatter):
    def __init__(self, job: str) -> None:
        super().__init__()
        self.job = job

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "job": self.job,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({field: getattr(record, field) for field in CONTEXT_FIELDS if hasattr(record, field)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


class TextFormatter(logging.Formatter):
    def __init__(self, job: str) -> None:
        super().__init__("%(levelname)s %(message)s")
        self.job = job

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{field}={getattr(record, field)}" for field in CONTEXT_FIELDS if hasattr(record, field))
        text = super().format(record)
        return f"{text} [{self.job} {context}]" if context else text


def configure_logging(job: str, log_format: str, verbose: bool) -> None:
    """Root logging of one process; ``log_format`` is "text" or "json"."""
    if log_format not in ("text", "json"):
        raise ValueError(
            f"log format must be 'text' or 'json', not {log_format!r} (--log-format, SPENDSTREAM_LOG_FORMAT)"
        )
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(job) if log_format == "json" else TextFormatter(job))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("kafka").setLevel(logging.INFO if verbose else logging.ERROR)
