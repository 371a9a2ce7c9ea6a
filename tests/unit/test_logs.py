"""Log lines: JSON for collectors, text for people; both say which record an error is about."""

from __future__ import annotations

import json
import logging

import pytest
from kafka.consumer.fetcher import ConsumerRecord

from spendstream.logs import JsonFormatter, TextFormatter, configure_logging, record_context


def log_record(**extra) -> logging.LogRecord:
    record = logging.LogRecord("sink", logging.WARNING, __file__, 1, "refused: %s", ("HTTP 400",), None)
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_job_and_the_records_origin():
    kafka_record = ConsumerRecord("spendstream.aggregates", 2, -1, 41, 0, 0, None, b"x", [], None, 0, 1, 0)
    line = json.loads(JsonFormatter("spendstream sink").format(log_record(**record_context(kafka_record))))
    assert {k: line[k] for k in ("level", "job", "message", "topic", "partition", "offset")} == {
        "level": "WARNING",
        "job": "spendstream sink",
        "message": "refused: HTTP 400",
        "topic": "spendstream.aggregates",
        "partition": 2,
        "offset": 41,
    }


def test_text_lines_add_the_origin_only_when_there_is_one():
    formatter = TextFormatter("spendstream sink")
    assert formatter.format(log_record()) == "WARNING refused: HTTP 400"
    assert formatter.format(log_record(topic="t", partition=0, offset=7)) == (
        "WARNING refused: HTTP 400 [spendstream sink topic=t partition=0 offset=7]"
    )


def test_an_unknown_log_format_is_refused_with_the_setting_named():
    with pytest.raises(ValueError, match="SPENDSTREAM_LOG_FORMAT"):
        configure_logging("spendstream sink", "xml", verbose=False)
