"""Prometheus metrics of spendstream's own processes (replay, sink), served on 127.0.0.1.

The Flink job reports its counters through Flink's metric system (group ``spendstream``); these
are the same facts for the processes around it, scraped at ``http://127.0.0.1:PORT/metrics``.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, start_http_server

REPLAY_ROWS = Counter("spendstream_replay_rows", "Export rows read by replay", ["format"])
REPLAY_PRODUCED = Counter("spendstream_replay_produced", "Cost events replay produced to the raw topic")
REPLAY_REJECTED = Counter("spendstream_replay_rejected", "Rows replay sent to the dead-letter topic", ["reason"])
SINK_RECORDS = Counter("spendstream_sink_records", "Records the InfluxDB sink consumed", ["topic"])
SINK_POINTS = Counter("spendstream_sink_points", "Points the InfluxDB sink wrote")
SINK_DEAD_LETTERS = Counter("spendstream_sink_dead_letters", "Records the sink could not write, to the DLQ")
SINK_RETRIES = Counter("spendstream_sink_retries", "Write attempts retried while InfluxDB was unavailable")


def serve_metrics(port: int | None) -> None:
    """Expose the registry on ``port`` (nothing when None), on 127.0.0.1 unless told otherwise.

    In a pod, Prometheus scrapes from outside: set ``SPENDSTREAM_METRICS_HOST=0.0.0.0`` there.
    """
    if port is not None:
        start_http_server(port, addr=os.environ.get("SPENDSTREAM_METRICS_HOST", "127.0.0.1"))
