"""Cost aggregation job: cost events → hourly aggregates, budget alerts, utilization, analytics, recommendations.

    flink run -py jobs/cost_aggregation.py [--config spendstream.yaml] [--from-offsets 0:0,1:0,2:0]
        [--until-offsets 0:120,1:98,2:0] [--restated]

Event time is the Kafka record timestamp (replay sets it to the line item's usage start), with
watermarks generated in the source per partition and bounded out-of-orderness from config.
Events behind the watermark of their hour are not dropped: they go to the dead-letter topic.
Records with a null value are heartbeats (``replay --heartbeat``): they advance the watermark of
their partition, so a continuously running job closes the last hours of a replay.
Delivery is at-least-once; every output carries a deterministic id so sinks are idempotent.

``--restated`` is a correction run: it reads the given offsets of the restated topic (newer
deliveries of billing periods published before, which the running job never sees) and writes
only the hourly aggregates, whose ids are those the running job wrote, so the sink overwrites
them; budget alerts, live totals and the analytics stay with the running job.
"""

from __future__ import annotations

import argparse
import site
import sys
from pathlib import Path

from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import DataTypes, Schema, StatementSet, StreamTableEnvironment, Table
from pyflink.util.java_utils import load_java_class

from connectors.deliveries import REMOVED
from jobs.analytics import build_analytics
from jobs.enrichment_sql import PYTHON_SETTINGS, context_sql, settings_table_columns, with_settings_sql
from jobs.names import CORRECTION_JOB, COST_JOB
from jobs.optimizer import build_optimizer, workload_sql
from jobs.sql import LATE, dead_letters_sql, literal
from jobs.udfs import budget_alerts, encode_aggregate, encode_dead_letter, unit_costs
from jobs.utilization import build_utilization
from pipelines.enrichment import UNIT_DIMENSIONS, AccountDirectory, load_directory
from spendstream import PACKAGES, SOURCE_ROOT
from spendstream.config import Config, load_config, require
from spendstream.java_functions import ACCOUNT_SETTINGS_CONNECTOR, DECODE_COST_EVENT, JAR_NAME

SUMS = "unblended_cost, net_cost, line_items"
DIMENSIONS = "account_id, account_name, service, region, charge_type, cost_center, project, environment, team, currency"
COST_COLUMNS = (
    "account_id, account_name, cost_center, project, environment, team, customer, feature, service, region, "
    "charge_type, currency, "
    "resource_id, unblended_cost, net_cost, line_item, usage_amount, amortized_cost, instance_type, pricing_term, "
    "public_on_demand_rate, workload"
)
DECODED = (
    "SELECT r.event_time, r.proc_time, r.kafka_partition, r.kafka_offset, r.payload, e.error, e.account_id, e.service, "
    "  e.region, e.charge_type, e.currency, e.unblended_cost, e.net_cost, e.resource_id, e.line_item_type, e.tags, "
    "  e.usage_amount, e.amortized_cost, e.instance_type, e.pricing_term, e.public_on_demand_rate, "
    f"  {LATE} "
    "FROM raw_cost AS r, LATERAL TABLE(decode_cost_event(r.payload)) AS e "
    "WHERE r.payload IS NOT NULL"  # a null value is a heartbeat: it only moves event time
)
# Every decoded event once: enriched and exact for the aggregations, or (error, late) with its payload.
CHECKED = (
    "SELECT event_time, kafka_partition, kafka_offset, error, late, "
    "  CASE WHEN error IS NOT NULL OR late THEN payload END AS payload, "
    "  account_id, {context}, service, region, charge_type, currency, resource_id, "
    "  CAST(unblended_cost AS DECIMAL(38, 18)) AS unblended_cost, CAST(net_cost AS DECIMAL(38, 18)) AS net_cost, "
    f"  CAST(CASE WHEN line_item_type = '{REMOVED}' THEN 0 ELSE 1 END AS BIGINT) AS line_item, "
    # what the optimizer reads (null where the export has none: older writers, non-instance usage)
    "  CAST(usage_amount AS DECIMAL(38, 18)) AS usage_amount, "
    "  CAST(amortized_cost AS DECIMAL(38, 18)) AS amortized_cost, instance_type, pricing_term, "
    "  CAST(public_on_demand_rate AS DECIMAL(38, 18)) AS public_on_demand_rate, {workload} AS workload "
    "FROM decoded_in_context"
)


def build(
    t_env: StreamTableEnvironment, config: Config, directory: AccountDirectory, raw_topic: str, metrics_topic: str
) -> dict[str, Table]:
    """The topology over source tables ``raw_cost`` and ``metric_events``; returns what each sink writes."""
    outputs = build_costs(t_env, config, directory, raw_topic)
    utilization, metric_dead_letters = build_utilization(t_env, metrics_topic)
    outputs["utilization"] = utilization
    outputs["dead_letters"] = outputs["dead_letters"].union_all(metric_dead_letters)
    t_env.create_temporary_view("analytics", build_analytics(t_env, directory))
    t_env.create_temporary_view("optimizer", build_optimizer(t_env, directory, config.optimizer))
    alerts = "SELECT k, v FROM analytics WHERE role = 'alert' UNION ALL SELECT k, v FROM optimizer WHERE role = 'alert'"
    outputs["alerts"] = outputs["alerts"].union_all(t_env.sql_query(alerts))
    for output, view, role in (
        ("anomalies", "analytics", "anomaly"),
        ("forecasts", "analytics", "forecast"),
        ("forecast_accuracy", "analytics", "forecast_accuracy"),
        ("recommendations", "optimizer", "recommendation"),
        ("optimization_events", "optimizer", "optimization_event"),
    ):
        outputs[output] = t_env.sql_query(f"SELECT k, v FROM {view} WHERE role = '{role}'")
    return outputs


def build_correction(
    t_env: StreamTableEnvironment, config: Config, directory: AccountDirectory, restated_topic: str
) -> dict:
    """What a correction run writes: the recomputed hourly aggregates and its dead letters."""
    outputs = build_costs(t_env, config, directory, restated_topic)
    return {output: outputs[output] for output in ("aggregates", "dead_letters")}


def planned_once(t_env: StreamTableEnvironment, name: str, query: str) -> Table:
    """``query`` as a table every consumer shares: one Kafka scan and one decode per event.

    Flink plans each ``to_data_stream`` conversion (the analytics) apart from the statement set, so
    each would scan the topic and decode every event again; a DataStream in between is planned
    once. Event time crosses it as the record timestamp with the source's watermarks.
    """
    stream = t_env.to_data_stream(t_env.sql_query(query))
    schema = (
        Schema.new_builder()
        .column_by_metadata("rowtime", DataTypes.TIMESTAMP_LTZ(3))
        .watermark("rowtime", "SOURCE_WATERMARK()")
        .build()
    )
    t_env.create_temporary_view(name, t_env.from_data_stream(stream, schema))
    columns = [c for c in t_env.from_path(name).get_schema().get_field_names() if c not in ("event_time", "rowtime")]
    return t_env.sql_query(f"SELECT rowtime AS event_time, {', '.join(columns)} FROM {name}")


def build_costs(
    t_env: StreamTableEnvironment, config: Config, directory: AccountDirectory, raw_topic: str
) -> dict[str, Table]:
    """Aggregates, budget alerts and dead letters over source table ``raw_cost``."""
    register_java_function(t_env, "decode_cost_event", DECODE_COST_EVENT)
    t_env.create_temporary_function("encode_aggregate", encode_aggregate)
    t_env.create_temporary_function("encode_dead_letter", encode_dead_letter)
    t_env.create_temporary_function("budget_alerts", budget_alerts(directory))
    t_env.create_temporary_function("unit_costs", unit_costs(directory))
    view = t_env.create_temporary_view
    sql = t_env.sql_query
    t_env.execute_sql(settings_ddl(config))
    view("decoded", sql(DECODED))
    view("decoded_in_context", sql(with_settings_sql("decoded")))
    view(
        "checked",
        planned_once(
            t_env,
            "checked_events",
            CHECKED.format(
                context=context_sql(directory, "account_id", "tags"),
                workload=workload_sql(config.optimizer.settings().workload_tags, "tags"),
            ),
        ),
    )
    view("costs", sql(f"SELECT event_time, {COST_COLUMNS} FROM checked WHERE error IS NULL AND late IS NOT TRUE"))
    view(
        "hourly",
        sql(
            f"SELECT window_start, window_end, window_time, {DIMENSIONS}, "
            "  SUM(unblended_cost) AS unblended_cost, SUM(net_cost) AS net_cost, SUM(line_item) AS line_items "
            "FROM TABLE(TUMBLE(TABLE costs, DESCRIPTOR(event_time), INTERVAL '1' HOUR)) "
            f"GROUP BY window_start, window_end, window_time, {DIMENSIONS}"
        ),
    )
    # Coarser hourly and daily aggregates roll up these hours, not the events: every aggregation
    # over events costs each event a key copy and a buffer insert (bench 3's profile).
    view("hours", sql(f"SELECT window_time AS hour_time, {DIMENSIONS}, {SUMS} FROM hourly"))
    # Live: what each open hour has so far, every 200 ms of processing time (not waiting for the
    # watermark): per-200-ms sums of each hour's new events, then their running total per hour.
    view("costs_arriving", sql("SELECT *, PROCTIME() AS arrived FROM costs"))
    view(
        "live_increments",
        sql(
            f"SELECT CAST(FLOOR(event_time TO HOUR) AS TIMESTAMP(3)) AS window_start, {DIMENSIONS}, "
            "  SUM(unblended_cost) AS unblended_cost, SUM(net_cost) AS net_cost, SUM(line_item) AS line_items "
            "FROM TABLE(TUMBLE(TABLE costs_arriving, DESCRIPTOR(arrived), INTERVAL '0.2' SECOND)) "
            f"GROUP BY window_start, window_end, FLOOR(event_time TO HOUR), {DIMENSIONS}"
        ),
    )
    view(
        "live_hourly",
        sql(
            f"SELECT window_start, {DIMENSIONS}, SUM(unblended_cost) AS unblended_cost, SUM(net_cost) AS net_cost, "
            f"  SUM(line_items) AS line_items FROM live_increments GROUP BY window_start, {DIMENSIONS}"
        ),
    )
    view(
        "cost_center_hourly",
        sql(
            "SELECT window_start, window_end, cost_center, charge_type, currency, "
            "  SUM(unblended_cost) AS unblended_cost, SUM(net_cost) AS net_cost, SUM(line_items) AS line_items "
            "FROM TABLE(TUMBLE(TABLE hours, DESCRIPTOR(hour_time), INTERVAL '1' HOUR)) "
            "GROUP BY window_start, window_end, cost_center, charge_type, currency"
        ),
    )
    # Unit costs: each hour's cost per account, customer and feature (one aggregation over events),
    # rolled up per customer and per feature, listed per account-hour for the allocation.
    view(
        "unit_hours",
        sql(
            "SELECT window_time AS hour_time, account_id, currency, customer, feature, SUM(unblended_cost) AS cost "
            "FROM TABLE(TUMBLE(TABLE costs, DESCRIPTOR(event_time), INTERVAL '1' HOUR)) "
            "GROUP BY window_start, window_end, window_time, account_id, currency, customer, feature"
        ),
    )
    for dimension in UNIT_DIMENSIONS:
        view(f"{dimension}_hours", sql(unit_rollup_sql(dimension)))
    listings = " UNION ALL ".join(unit_listing_sql(dimension) for dimension in UNIT_DIMENSIONS)
    view("unit_listings_now", sql(f"SELECT *, PROCTIME() AS proc_time FROM ({listings})"))
    view("unit_listings", sql(with_settings_sql("unit_listings_now", settings=PYTHON_SETTINGS)))
    # What budgets measure, per hour: each account's whole spend (service '*') and each service's.
    view(
        "budget_hourly", sql(f"{budget_hourly_sql('account_id')} UNION ALL {budget_hourly_sql('account_id, service')}")
    )
    return {
        "aggregates": sql(account_service_records("hourly", "window_end")).union_all(
            sql(
                "SELECT r.k, r.v FROM (SELECT encode_aggregate('cost_center', window_start, window_end, '*', '*', '*', "
                "  '*', charge_type, cost_center, '*', '*', '*', currency, CAST(unblended_cost AS STRING), "
                "  CAST(net_cost AS STRING), line_items) AS r FROM cost_center_hourly)"
            )
        ),
        "live_aggregates": sql(account_service_records("live_hourly", "window_start + INTERVAL '1' HOUR")),
        "alerts": _running_budget(t_env, "daily", "DATE_FORMAT(window_start, 'yyyy-MM-dd')").union_all(
            _running_budget(t_env, "monthly", "DATE_FORMAT(window_start, 'yyyy-MM')")
        ),
        "dead_letters": sql(dead_letters_sql("checked", "error", raw_topic, "event")),
        "unit_costs": sql(
            "SELECT T.k, T.v FROM unit_listings, LATERAL TABLE(unit_costs(dimension, account_id, currency, "
            "  window_start, window_end, units, settings_version, settings_entry)) AS T(k, v)"
        ),
    }


def account_service_records(view: str, window_end: str) -> str:
    """Kafka records (k, v) of the account × service aggregates in ``view`` (final or live: same ids)."""
    return (
        f"SELECT r.k, r.v FROM (SELECT encode_aggregate('account_service', window_start, {window_end}, "
        f"  {DIMENSIONS}, CAST(unblended_cost AS STRING), CAST(net_cost AS STRING), line_items) AS r FROM {view})"
    )


def register_java_function(t_env: StreamTableEnvironment, name: str, class_name: str) -> None:
    """Register a function of the spendstream functions jar; say how to get the jar when it is missing."""
    try:
        load_java_class(class_name)
    except Exception:  # py4j wraps the ClassNotFoundException
        raise RuntimeError(
            f"{class_name} is not on Flink's classpath: build {JAR_NAME} into pyflink/lib with `make setup` "
            f"(python -m spendstream.java_functions), or copy it into $FLINK_HOME/lib of your cluster"
        ) from None
    t_env.create_java_temporary_function(name, class_name)


def unit_rollup_sql(dimension: str) -> str:
    """Cost per account, currency and ``dimension`` (customer or feature) per hour, from ``unit_hours``."""
    return (
        f"SELECT window_time AS hour_time, account_id, currency, {dimension} AS unit, SUM(cost) AS cost "
        "FROM TABLE(TUMBLE(TABLE unit_hours, DESCRIPTOR(hour_time), INTERVAL '1' HOUR)) "
        f"GROUP BY window_start, window_end, window_time, account_id, currency, {dimension}"
    )


def unit_listing_sql(dimension: str) -> str:
    """One row per account-hour listing its units' costs (``base64(unit):cost,…``; see jobs/udfs.UnitCosts)."""
    return (
        f"SELECT '{dimension}' AS dimension, account_id, currency, window_start, window_end, "
        "  LISTAGG(TO_BASE64(unit) || ':' || CAST(cost AS STRING), ',') AS units "
        f"FROM TABLE(TUMBLE(TABLE {dimension}_hours, DESCRIPTOR(hour_time), INTERVAL '1' HOUR)) "
        "GROUP BY account_id, currency, window_start, window_end"
    )


def budget_hourly_sql(keys: str) -> str:
    """Total and usage cost per hour and ``keys`` (the account, or the account and service)."""
    service = "service" if "service" in keys else "'*' AS service"
    return (
        f"SELECT account_id, {service}, window_start, window_end, window_time, SUM(unblended_cost) AS total, "
        "  SUM(CASE WHEN charge_type = 'usage' THEN unblended_cost ELSE 0 END) AS usage_cost "
        "FROM TABLE(TUMBLE(TABLE hours, DESCRIPTOR(hour_time), INTERVAL '1' HOUR)) "
        f"GROUP BY {keys}, window_start, window_end, window_time"
    )


def _running_budget(t_env: StreamTableEnvironment, period: str, period_key: str) -> Table:
    """Running totals within each budget period (native OVER aggregation), then crossings."""
    running = t_env.sql_query(
        f"SELECT account_id, service, {period_key} AS period_start, window_end, total, usage_cost, "
        f"  SUM(total) OVER w AS running_total, SUM(usage_cost) OVER w AS running_usage "
        "FROM budget_hourly "
        f"WINDOW w AS (PARTITION BY account_id, service, {period_key} ORDER BY window_time "
        "  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )
    t_env.create_temporary_view(f"{period}_running", running)
    t_env.create_temporary_view(
        f"{period}_running_now", t_env.sql_query(f"SELECT *, PROCTIME() AS proc_time FROM {period}_running")
    )
    t_env.create_temporary_view(
        f"{period}_running_in_context",
        t_env.sql_query(with_settings_sql(f"{period}_running_now", settings=PYTHON_SETTINGS)),
    )
    return t_env.sql_query(
        f"SELECT T.k, T.v FROM {period}_running_in_context, "
        f"  LATERAL TABLE(budget_alerts(account_id, service, '{period}', period_start, window_end, "
        " CAST(total AS STRING), CAST(usage_cost AS STRING), "
        "  CAST(running_total AS STRING), CAST(running_usage AS STRING), settings_version, settings_entry)) AS T(k, v)"
    )


def kafka_properties(config: Config) -> str:
    kafka = config.kafka
    props = {
        "properties.bootstrap.servers": require(kafka.bootstrap, "Kafka bootstrap", "KAFKA_BOOTSTRAP"),
        "properties.security.protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        module = "scram.ScramLoginModule" if "SCRAM" in kafka.sasl_mechanism else "plain.PlainLoginModule"
        props["properties.sasl.mechanism"] = kafka.sasl_mechanism
        props["properties.sasl.jaas.config"] = (
            f"org.apache.kafka.common.security.{module} required "
            f"username={jaas_quoted(kafka.sasl_username)} password={jaas_quoted(kafka.sasl_password)};"
        )
    if kafka.ssl_cafile:  # Kafka clients read a PEM trust store directly (KIP-651)
        props["properties.ssl.truststore.type"] = "PEM"
        props["properties.ssl.truststore.location"] = str(Path(kafka.ssl_cafile).resolve())
    return ", ".join(f"{literal(k)} = {literal(v)}" for k, v in props.items())


def jaas_quoted(value: str) -> str:
    """A JAAS option value in double quotes, as Kafka's JaasConfig tokenizer reads it back.

    Its tokenizer (java.io.StreamTokenizer) reads backslash escapes inside quotes, so a quote,
    backslash or line break in a password stays part of the value instead of ending it.
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def source_ddl(
    table: str,
    topic: str,
    config: Config,
    until_offsets: dict[int, int] | None,
    from_earliest: bool,
    from_offsets: dict[int, int] | None = None,
) -> str:
    """A raw-bytes Kafka source with event time from the record timestamp and per-partition watermarks.

    ``until_offsets`` bounds a backfill (partition → offset to stop at); None reads on forever.
    ``from_offsets`` starts exactly there (a replay's first records), else earliest or the group's offsets.
    """
    bounded = ""
    if until_offsets is not None:
        bounded = (
            ", 'scan.bounded.mode' = 'specific-offsets', "
            f"'scan.bounded.specific-offsets' = '{offsets_spec(until_offsets)}'"
        )
    startup = "'scan.startup.mode' = '" + ("earliest-offset" if from_earliest else "group-offsets") + "'"
    if from_offsets is not None:
        startup = (
            "'scan.startup.mode' = 'specific-offsets', "
            f"'scan.startup.specific-offsets' = '{offsets_spec(from_offsets)}'"
        )
    return (
        f"CREATE TEMPORARY TABLE {table} ("
        "  payload BYTES,"
        "  event_time TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',"
        "  kafka_partition INT METADATA FROM 'partition' VIRTUAL,"
        "  kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,"
        "  proc_time AS PROCTIME(),"  # what the account settings are looked up as of
        f"  WATERMARK FOR event_time AS event_time - {interval(config.flink.out_of_orderness_s)}"
        ") WITH ('connector' = 'kafka', 'format' = 'raw', "
        f"'topic' = '{topic}', {kafka_properties(config)}, "
        f"'properties.group.id' = '{config.kafka.job_group}', "
        f"{startup}, 'properties.auto.offset.reset' = 'earliest'{bounded})"
    )


def settings_ddl(config: Config) -> str:
    """The account settings topic as a lookup table (jobs/java AccountSettingsFactory)."""
    return (
        f"CREATE TEMPORARY TABLE account_settings ({settings_table_columns()}) WITH ("
        f"'connector' = '{ACCOUNT_SETTINGS_CONNECTOR}', 'topic' = '{config.kafka.topic('account_settings')}', "
        f"{kafka_properties(config)})"
    )


def offsets_spec(offsets: dict[int, int]) -> str:
    return ";".join(f"partition:{p},offset:{o}" for p, o in sorted(offsets.items()))


def interval(seconds: int) -> str:
    """A SQL day-time interval literal (plain SECOND literals are limited to 99 seconds)."""
    hours, rest = divmod(seconds, 3600)
    return f"INTERVAL '{hours}:{rest // 60:02d}:{rest % 60:02d}' HOUR TO SECOND"


def sink_ddl(name: str, topic: str, config: Config, updates: bool = False) -> str:
    """An append-only Kafka sink, or (``updates``) one taking a changelog: each update as a new record."""
    connector = "'connector' = 'upsert-kafka'" if updates else "'connector' = 'kafka', 'key.fields' = 'k'"
    key = ", PRIMARY KEY (k) NOT ENFORCED" if updates else ""
    return (
        f"CREATE TEMPORARY TABLE {name} (k BYTES, v BYTES{key}) WITH ({connector}, 'topic' = '{topic}', "
        f"{kafka_properties(config)}, 'key.format' = 'raw', 'value.format' = 'raw', "
        "'value.fields-include' = 'EXCEPT_KEY', 'sink.delivery-guarantee' = 'at-least-once')"
    )


def create_environment(config: Config, env: StreamExecutionEnvironment) -> StreamTableEnvironment:
    t_env = StreamTableEnvironment.create(env)
    settings = {
        "pipeline.name": COST_JOB,
        "table.local-time-zone": "UTC",
        "parallelism.default": str(config.flink.parallelism),
        "execution.checkpointing.interval": f"{config.flink.checkpoint_interval_s}s",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "table.exec.state.ttl": "40 d",
        # SQL operators are safe with reused objects; without it every chained operator copied
        # every row (RowDataSerializer.copy was the top frame of the source thread).
        "pipeline.object-reuse": "true",
        # The live sink's key is the account (partitioning), not the row's identity: write every update.
        "table.exec.sink.upsert-materialize": "NONE",
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": str(config.flink.restart_attempts),
        "restart-strategy.fixed-delay.delay": "5s",
        # Python UDFs run embedded in the TaskManager (thread mode); it needs the interpreter
        # and site-packages of an environment where spendstream's dependencies are installed.
        "python.execution-mode": "thread",
        # Python sees aggregates only; hand them over every 100 ms, not per 1 s bundle (live latency).
        "python.fn-execution.bundle.time": "100",
        "python.executable": config.flink.python_executable or sys.executable,
        "python.pythonpath": config.flink.python_path or ":".join(site.getsitepackages()),
    }
    if config.flink.checkpoint_dir:
        settings["execution.checkpointing.dir"] = config.flink.checkpoint_dir
    for key, value in settings.items():
        t_env.get_config().set(key, value)
    for package in PACKAGES:
        t_env.add_python_file(str(SOURCE_ROOT / package))
    return t_env


def statements(t_env: StreamTableEnvironment, config: Config, outputs: dict[str, Table]) -> StatementSet:
    topics = {
        "aggregates": "aggregate",
        "unit_costs": "unit_cost",
        "live_aggregates": "live_aggregate",
        "alerts": "alert",
        "dead_letters": "dead_letter",
        "utilization": "utilization",
        "anomalies": "anomaly",
        "forecasts": "forecast",
        "forecast_accuracy": "forecast_accuracy",
        "recommendations": "recommendation",
        "optimization_events": "optimization_event",
    }
    statement_set = t_env.create_statement_set()
    for output, role in topics.items():
        t_env.execute_sql(sink_ddl(f"{output}_sink", config.kafka.topic(role), config, role == "live_aggregate"))
        if output in outputs:
            statement_set.add_insert(f"{output}_sink", outputs[output])
    return statement_set


def parse_offsets(text: str) -> dict[int, int]:
    """``0:120,1:98`` → {0: 120, 1: 98}."""
    pairs = (item.split(":") for item in text.split(",") if item)
    return {int(partition): int(offset) for partition, offset in pairs}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="spendstream YAML config (default: $SPENDSTREAM_CONFIG or ./spendstream.yaml)")
    parser.add_argument(
        "--until-offsets",
        type=parse_offsets,
        help="backfill: stop at these offsets of the raw topic (partition:offset,...); "
        "`spendstream replay` prints them",
    )
    parser.add_argument(
        "--metrics-until-offsets",
        type=parse_offsets,
        help="backfill: stop at these offsets of the metrics topic (default with --until-offsets: read no metrics)",
    )
    parser.add_argument("--from-earliest", action="store_true", help="ignore committed offsets, start at earliest")
    parser.add_argument(
        "--from-offsets", type=parse_offsets, help="start the raw topic at these offsets (a replay's first records)"
    )
    parser.add_argument(
        "--restated",
        action="store_true",
        help="correction run: read the restated topic between --from-offsets and --until-offsets "
        "(`spendstream replay` starts it)",
    )
    args = parser.parse_args(argv)
    if args.restated and (args.from_offsets is None or args.until_offsets is None):
        parser.error("--restated needs --from-offsets and --until-offsets: the offsets `spendstream replay` printed")
    config = load_config(args.config)
    env = StreamExecutionEnvironment.get_execution_environment()
    t_env = create_environment(config, env)
    outputs = topology(t_env, config, load_directory(Path(config.accounts_file)), args)
    statements(t_env, config, outputs).attach_as_datastream()
    name = CORRECTION_JOB if args.restated else COST_JOB
    job = env.execute_async(name)
    print(f"submitted {name}: job id {job.get_job_id()}", flush=True)
    if args.until_offsets is not None and t_env.get_config().get("execution.attached", "true") == "true":
        job.get_job_execution_result().result()  # a local or attached backfill; `--detached` returns at once


def topology(t_env: StreamTableEnvironment, config: Config, directory: AccountDirectory, args) -> dict[str, Table]:
    """The sources the arguments ask for, and what each sink writes from them."""
    if args.restated:
        topic = config.kafka.topic("restated_cost")
        t_env.execute_sql(source_ddl("raw_cost", topic, config, args.until_offsets, False, args.from_offsets))
        return build_correction(t_env, config, directory, topic)
    metrics_until = args.metrics_until_offsets
    if args.until_offsets is not None and metrics_until is None:  # a cost backfill without metrics: stop at 0
        metrics_until = dict.fromkeys(range(config.kafka.topics["metrics"].partitions), 0)
    raw_topic, metrics_topic = config.kafka.topic("raw_cost"), config.kafka.topic("metrics")
    t_env.execute_sql(
        source_ddl("raw_cost", raw_topic, config, args.until_offsets, args.from_earliest, args.from_offsets)
    )
    t_env.execute_sql(source_ddl("metric_events", metrics_topic, config, metrics_until, args.from_earliest))
    return build(t_env, config, directory, raw_topic, metrics_topic)


if __name__ == "__main__":
    main()
