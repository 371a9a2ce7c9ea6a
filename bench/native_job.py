"""Benchmark 3's baseline job: the cost job's Kafka source, event time and hourly windows, no Python.

    flink run -py bench/native_job.py --from-offsets 0:0,... --until-offsets 0:120,...

It reads the same raw topic with the same source (raw bytes, record-timestamp event time,
per-partition watermarks) and counts records per partition and event-time hour into a
blackhole sink: what Flink's native operators sustain on this machine with no Python function
(no decoding, enrichment, encoding or analytics).
"""

from __future__ import annotations

import argparse

from pyflink.datastream import StreamExecutionEnvironment

from jobs.cost_aggregation import create_environment, parse_offsets, source_ddl
from spendstream.config import load_config

JOB_NAME = "spendstream-bench-native-baseline"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-offsets", type=parse_offsets, required=True)
    parser.add_argument("--until-offsets", type=parse_offsets, required=True)
    args = parser.parse_args()
    config = load_config(None)
    t_env = create_environment(config, StreamExecutionEnvironment.get_execution_environment())
    t_env.get_config().set("pipeline.name", JOB_NAME)
    topic = config.kafka.topic("raw_cost")
    t_env.execute_sql(source_ddl("raw_cost", topic, config, args.until_offsets, False, args.from_offsets))
    t_env.execute_sql(
        "CREATE TEMPORARY TABLE counts (hour_start TIMESTAMP(3), part INT, records BIGINT, last_offset BIGINT) "
        "WITH ('connector' = 'blackhole')"
    )
    result = t_env.execute_sql(
        "INSERT INTO counts SELECT window_start, kafka_partition, COUNT(*), MAX(kafka_offset) "
        "FROM TABLE(TUMBLE(TABLE raw_cost, DESCRIPTOR(event_time), INTERVAL '1' HOUR)) "
        "GROUP BY window_start, window_end, kafka_partition"
    )
    print(f"submitted {JOB_NAME}: job id {result.get_job_client().get_job_id()}", flush=True)


if __name__ == "__main__":
    main()
