"""The ``spendstream`` command: stack, replay, job, sink, alerts, costs and demo."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spendstream.config import ConfigError, load_config
from spendstream.logs import configure_logging

EXPORT_FORMATS = ["auto", "cur2", "cur1", "focus"]
console = Console()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        configure_logging(f"spendstream {args.run.__name__.removeprefix('cmd_')}", args.log_format, args.verbose)
        config = load_config(args.config)
        return args.run(config, args) or 0
    except (ConfigError, RuntimeError, ValueError, OSError, TimeoutError) as error:
        console.print(f"[bold red]error:[/] {error}")
        if args.log_format == "json":  # log collectors see the failure too
            logging.getLogger("spendstream").error("%s", error)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spendstream", description="Real-time cloud cost pipeline.")
    parser.add_argument("--config", help="YAML config file (env SPENDSTREAM_CONFIG; default ./spendstream.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument(
        "--log-format",
        default=os.environ.get("SPENDSTREAM_LOG_FORMAT", "text"),
        help="text or json: one object per line with job, topic, partition, offset (env SPENDSTREAM_LOG_FORMAT)",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    stack = commands.add_parser("stack", help="the embedded local stack (Tansu, SeaweedFS, InfluxDB, Flink)")
    stack.add_argument(
        "action",
        choices=["up", "down", "status", "supervise"],
        help="supervise: keep the API, the cost job, the sink and the health writer running (stack up starts it)",
    )
    stack.set_defaults(run=cmd_stack)

    replay = commands.add_parser("replay", help="replay a cost export (CUR 2.0, CUR 1.0, FOCUS) into the raw topic")
    replay.add_argument("path", type=Path, help="a .csv/.csv.gz file or an export folder")
    replay.add_argument(
        "--format",
        default="auto",
        choices=EXPORT_FORMATS,
        help="export format (default: recognised from each file's header)",
    )
    replay.add_argument("--speed", type=float, help="event-time seconds per wall second (3600 = 1 h/s); default: max")
    replay.add_argument("--offsets-file", type=Path, help="write the raw topic's end offsets here (JSON)")
    replay.add_argument(
        "--force", action="store_true", help="publish billing periods whose delivery was already published"
    )
    replay.add_argument(
        "--heartbeat", action="store_true", help="end with a heartbeat so a running job closes the last hour"
    )
    replay.add_argument(
        "--no-correction",
        action="store_true",
        help="publish restated billing periods but do not start their correction run (print its command)",
    )
    replay.add_argument(
        "--dry-run",
        action="store_true",
        help="read, check, normalize and sort the export and print the summary; publish nothing. "
        "Exits 1 when a row is rejected",
    )
    replay.add_argument("--no-progress", action="store_true")
    replay.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT/metrics")
    replay.set_defaults(run=cmd_replay)

    job = commands.add_parser("job", help="Flink jobs")
    job_commands = job.add_subparsers(required=True, metavar="ACTION")
    submit = job_commands.add_parser("submit", help="submit the cost aggregation job with `flink run -py`")
    submit.add_argument("--dry-run", action="store_true", help="print the flink run command and exit")
    submit.add_argument("--from-offsets", help="start the raw topic at partition:offset,... (see replay)")
    submit.add_argument("--until-offsets", help="backfill: stop at partition:offset,... (see replay --offsets-file)")
    submit.add_argument("--offsets-file", type=Path, help="backfill exactly the records a replay wrote")
    submit.add_argument("--metrics-until-offsets", help="backfill: stop the metrics topic at partition:offset,...")
    submit.add_argument("--from-earliest", action="store_true", help="ignore committed offsets")
    submit.add_argument(
        "--restated", action="store_true", help="correction run over the restated topic's offsets (see replay)"
    )
    submit.add_argument("--wait", action="store_true", help="wait until a backfill job has finished")
    submit.set_defaults(run=cmd_job_submit)

    listing = job_commands.add_parser("list", help="jobs of the cluster: state, uptime, checkpoint, records")
    listing.set_defaults(run=cmd_job_list)
    job_metrics = job_commands.add_parser("metrics", help="a running job's own counters (parsed, DLQ, alerts)")
    job_metrics.add_argument("job_id")
    job_metrics.set_defaults(run=cmd_job_metrics)
    stop = job_commands.add_parser("stop", help="stop a job with a savepoint (the upgrade path)")
    stop.add_argument("job_id")
    stop.add_argument("--savepoint", required=True, help="directory for the savepoint, e.g. file:///var/savepoints")
    stop.set_defaults(run=cmd_job_stop)
    resume = job_commands.add_parser("resume", help="submit the job again from a savepoint")
    resume.add_argument("--from", dest="savepoint", required=True, help="the savepoint `job stop` printed")
    for option in ("--from-offsets", "--until-offsets", "--metrics-until-offsets"):
        resume.add_argument(option)
    resume.add_argument("--offsets-file", type=Path)
    resume.add_argument("--from-earliest", action="store_true")
    resume.add_argument("--wait", action="store_true")
    resume.add_argument("--dry-run", action="store_true")
    resume.set_defaults(run=cmd_job_submit)
    cancel = job_commands.add_parser("cancel", help="cancel a job (no savepoint)")
    cancel.add_argument("job_id")
    cancel.set_defaults(run=cmd_job_cancel)

    sink = commands.add_parser("sink", help="write aggregates to InfluxDB")
    sink.add_argument("target", choices=["influx"])
    sink.add_argument("--until-idle", type=float, help="stop after this many seconds without records")
    sink.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT/metrics")
    sink.set_defaults(run=cmd_sink)

    report = commands.add_parser("report", help="render the Grafana dashboards from InfluxDB as one static HTML page")
    report.add_argument("--out", type=Path, default=Path("spendstream-report.html"), help="the page to write")
    report.add_argument("--days", type=int, default=30, help="days of cost data before the newest (default 30)")
    report.set_defaults(run=cmd_report)

    health = commands.add_parser(
        "health", help="write pipeline health to InfluxDB: throughput, consumer lag, dead letters, job records"
    )
    health.add_argument("--every", type=float, default=15.0, help="seconds between measurements (default 15)")
    health.add_argument("--rounds", type=int, help="stop after this many measurements (default: run until stopped)")
    health.set_defaults(run=cmd_health)

    alerts = commands.add_parser("alerts", help="read the alert topic, forward it to a webhook, or mark an alert")
    alerts.add_argument("action", choices=["tail", "forward", "mark"])
    alerts.add_argument("alert_id", nargs="?", help="mark: the alert's id (or its first 8+ characters)")
    verdict = alerts.add_mutually_exclusive_group()
    verdict.add_argument("--confirmed", action="store_true", help="mark: the alert was a real problem")
    verdict.add_argument("--false-positive", action="store_true", help="mark: the alert was not a problem")
    alerts.add_argument("--note", default="", help="mark: why, in a few words")
    alerts.add_argument(
        "--webhook-file",
        type=Path,
        help="forward: file holding the webhook URL (default: $SPENDSTREAM_WEBHOOK_URL); Slack-compatible JSON",
    )
    alerts.add_argument("--webhook", help=argparse.SUPPRESS)  # refused: a webhook URL is a credential
    alerts.add_argument("--template", type=Path, help="forward: request body template with $alert_id, $title, ...")
    alerts.add_argument("--json", action="store_true", help="one JSON object per line")
    alerts.add_argument("--from-beginning", action="store_true", help="all retained alerts, not only new ones")
    alerts.add_argument("--group", help="consumer group (commits what was handled); forward: spendstream-webhook")
    alerts.add_argument("--until-idle", type=float, help="stop after this many seconds without alerts")
    alerts.set_defaults(run=cmd_alerts)

    metrics = commands.add_parser("metrics", help="utilization metrics")
    metric_commands = metrics.add_subparsers(required=True, metavar="ACTION")
    metric_replay = metric_commands.add_parser("replay", help="a metric CSV → metrics topic")
    metric_replay.add_argument(
        "path",
        type=Path,
        help="timestamp,value (e.g. an NAB AWS CloudWatch series) or timestamp,resource_id,metric,value",
    )
    metric_replay.add_argument("--resource-id", help="the resource a timestamp,value series measures, e.g. i-0abc")
    metric_replay.add_argument("--metric", help="its metric name, e.g. CPUUtilization")
    metric_replay.add_argument("--namespace", default="AWS/EC2")
    metric_replay.add_argument("--unit", default="Percent")
    metric_replay.add_argument("--account-id", default="")
    metric_replay.add_argument("--region", default="")
    metric_replay.set_defaults(run=cmd_metrics_replay)
    poll = metric_commands.add_parser("poll-cloudwatch", help="CloudWatch GetMetricData → metrics topic")
    poll.add_argument("--once", action="store_true", help="poll the periods due now and exit")
    poll.set_defaults(run=cmd_metrics_poll)

    api = commands.add_parser("api", help="the REST and GraphQL API server, and tokens for it")
    api_commands = api.add_subparsers(required=True, metavar="ACTION")
    api_serve = api_commands.add_parser("serve", help="serve /v1 (REST and ingest), /graphql, /console/, /openapi.json")
    api_serve.add_argument("--port", type=int, help="default: api.port (SPENDSTREAM_API_PORT)")
    api_serve.set_defaults(run=cmd_api_serve)
    api_token = api_commands.add_parser("token", help="mint an HS256 token (key: SPENDSTREAM_API_JWT_SECRET)")
    api_token.add_argument("--account", action="append", required=True, help="account id (repeat for several)")
    api_token.add_argument("--permission", choices=["read", "optimize", "configure", "admin"], default="read")
    api_token.add_argument("--role", choices=["admin", "engineer", "finance", "viewer"], default="viewer")
    api_token.add_argument("--subject", default="local", help="who the token is for (sub)")
    api_token.add_argument("--ttl", type=int, help="seconds it is valid; default: api.token_ttl_s")
    api_token.set_defaults(run=cmd_api_token)

    costs = commands.add_parser("costs", help="cost per account per day, read back from InfluxDB")
    costs.set_defaults(run=cmd_costs)

    models = commands.add_parser("models", help="the model families the job runs: version, data range, live accuracy")
    models.set_defaults(run=cmd_models)

    backtest = commands.add_parser("backtest", help="detection and forecasts over a historical export")
    backtest.add_argument("path", type=Path, help="an export file or folder (any supported format)")
    backtest.add_argument("--out", type=Path, required=True, help="folder for the four result files")
    backtest.add_argument("--format", default="auto", choices=EXPORT_FORMATS, help="default: from each file's header")
    backtest.add_argument("--accounts", type=Path, help="accounts.yaml (default: the configured one)")
    backtest.add_argument("--labels", type=Path, help="JSON list of {account_id, service, start, end} anomalies")
    backtest.add_argument(
        "--runner",
        choices=["direct", "flink", "dataflow", "spark"],
        help="run as one Apache Beam pipeline (direct: every core of this machine); default: in this process",
    )
    backtest.add_argument(
        "--beam-option",
        action="append",
        default=[],
        help="a Beam pipeline option for the runner, e.g. --beam-option=--flink_master=HOST:8081 (repeatable)",
    )
    backtest.set_defaults(run=cmd_backtest)
    recommend = commands.add_parser("recommend", help="idle, rightsizing and commitment advice from an export")
    recommend.add_argument("path", type=Path, help="an export file or folder (any supported format)")
    metrics_help = "timestamp,resource_id,metric,value CSV file or folder (repeatable)"
    recommend.add_argument("--metrics", type=Path, action="append", default=[], help=metrics_help)
    recommend.add_argument("--as-of", type=date_ms, help="YYYY-MM-DD: use only data before this date (walk-forward)")
    recommend.add_argument("--catalog", type=Path, help="instance catalog file (default: the one shipped)")
    recommend.add_argument("--out", type=Path, required=True, help="folder for recommendations.jsonl, findings.jsonl")
    recommend.set_defaults(run=cmd_recommend)

    heartbeat = commands.add_parser("heartbeat", help="move a running job's event time on (no cost added)")
    heartbeat.add_argument("--at", required=True, help="event time, ISO-8601, e.g. 2026-11-01T00:10:00Z")
    heartbeat.set_defaults(run=cmd_heartbeat)

    demo = commands.add_parser("demo", help="replay the bundled sample through the whole pipeline")
    demo.add_argument("--sample", type=Path, default=Path(__file__).resolve().parent.parent / "deploy/sample/cur2")
    demo.set_defaults(run=cmd_demo)
    return parser


def cmd_stack(config, args) -> int:
    from connectors.consumer_lag import consumer_lag
    from spendstream.stack import LocalStack
    from spendstream.tables import print_consumer_lag

    if args.action == "supervise":
        from spendstream.supervisor import Supervisor

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        Supervisor(config).run()
        return 0
    stack = LocalStack(config)
    if args.action == "up":
        with console.status("starting SeaweedFS, Tansu, InfluxDB, Flink, the API and the pipeline ..."):
            endpoints = stack.up()
        console.print(f"stack up, state in {config.state_dir}")
        config = load_config(args.config)  # now with the endpoints of the stack just started
    if args.action == "down":
        stopped = stack.down()
        console.print(f"stopped: {', '.join(stopped) or 'nothing was running'} (data kept in {config.state_dir})")
        return 0
    table = Table("component", "address", "healthy", "what")
    healthy = True
    for status in stack.status():
        healthy &= status.healthy
        table.add_row(status.name, status.address, "[green]yes" if status.healthy else "[red]no", status.detail)
    console.print(table)
    if healthy:
        print_consumer_lag(console, consumer_lag(config))
    if args.action == "up":
        console.print(f"export KAFKA_BOOTSTRAP={endpoints['kafka']}")
    return 0 if healthy else 1


def cmd_heartbeat(config, args) -> int:
    from datetime import datetime

    from connectors.replay import send_heartbeat

    moment = datetime.fromisoformat(args.at.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"--at {args.at}: give a time zone, e.g. {args.at}Z")
    send_heartbeat(config, int(moment.timestamp() * 1000))
    console.print(f"heartbeat at {moment.isoformat()} on every partition of {config.kafka.topic('raw_cost')}")
    return 0


def cmd_replay(config, args) -> int:
    from connectors.process_metrics import serve_metrics
    from connectors.replay import replay

    serve_metrics(args.metrics_port)
    summary = replay(
        args.path,
        config,
        speed=args.speed,
        show_progress=not args.no_progress,
        export_format=args.format,
        force=args.force,
        heartbeat=args.heartbeat,
        dry_run=args.dry_run,
    )
    title = f"{'dry run of' if args.dry_run else 'replayed'} {args.path}"
    table = Table("account", "cost (unblended)", title=title)
    for account, cost in sorted(summary.cost_by_account.items()):
        table.add_row(account, f"{cost:,.10f}")
    console.print(table)
    produced, rejected_to = (
        ("would produce", "nothing was sent")
        if args.dry_run
        else ("produced", f"to {config.kafka.topic('dead_letter')}")
    )
    console.print(
        f"files {summary.files}, rows read {summary.rows_read}, {produced} {summary.produced}, "
        f"rejected {summary.rejected} ({rejected_to})"
    )
    for reason, count in summary.reasons.most_common():
        console.print(f"  rejected {count}: {reason} (first at {summary.first_rejected_at[reason]})")
    plan = summary.deliveries
    publish = "would publish" if args.dry_run else "published"
    for period, delivery in sorted(plan.published.items()):
        restated = " (restates an earlier delivery)" if period in plan.restated else ""
        console.print(f"  billing period {period}: {publish} delivery {delivery}{restated}")
    for period, delivery in sorted(plan.unchanged.items()):
        console.print(f"  billing period {period}: delivery {delivery} was already published; left out (--force)")
    if plan.removed_key_hours:
        console.print(f"  {plan.removed_key_hours} key-hours of earlier deliveries are gone: zeroed by removal events")
    if args.dry_run:
        return 1 if summary.rejected else 0
    console.print(f"backfill this replay: spendstream job submit {shlex.join(summary.backfill_args())}")
    if args.offsets_file:
        args.offsets_file.write_text(json.dumps({"from": summary.start_offsets, "until": summary.end_offsets}))
    return correct_restatements(config, summary, args.no_correction)


def correct_restatements(config, summary, print_only: bool) -> int:
    """Start the correction run of the replay's restated periods, or say how to."""
    from spendstream.restatements import apply_restatements, correction_command

    restated = ", ".join(sorted(summary.deliveries.restated))
    if not restated:
        return 0
    if print_only:
        console.print(f"apply the restated billing periods {restated}: {correction_command(summary)}")
        return 0
    with console.status(f"correction run of the restated billing periods {restated} ..."):
        job_id = apply_restatements(config, summary)
    console.print(f"restated billing periods {restated}: hourly aggregates recomputed by job {job_id}")
    return 0


def job_arguments(args) -> list[str]:
    job_args = []
    start, until = args.from_offsets, args.until_offsets
    if args.offsets_file:
        written = json.loads(args.offsets_file.read_text())
        start, until = (",".join(f"{p}:{o}" for p, o in sorted(written[bound].items())) for bound in ("from", "until"))
    if start:
        job_args += ["--from-offsets", start]
    if until:
        job_args += ["--until-offsets", until]
    if args.metrics_until_offsets:
        job_args += ["--metrics-until-offsets", args.metrics_until_offsets]
    if args.from_earliest:
        job_args.append("--from-earliest")
    if getattr(args, "restated", False):
        job_args.append("--restated")
    if args.config:
        job_args += ["--config", str(Path(args.config).resolve())]
    return job_args


def cmd_job_submit(config, args) -> int:
    from connectors.kafka_io import ensure_topics
    from spendstream.flink_client import job_failure, run_command, submit, wait_for_job

    job_args = job_arguments(args)
    savepoint = getattr(args, "savepoint", None)
    if args.dry_run:
        print(shlex.join(run_command(config, "cost-aggregation", job_args, savepoint)))
        return 0
    ensure_topics(config)
    with console.status("submitting the cost aggregation job ..."):
        job_id = submit(config, "cost-aggregation", job_args, savepoint)
    console.print(f"submitted job {job_id}; web UI: {config.flink.rest_url}/#/job/running/{job_id}/overview")
    if args.wait:
        with console.status(f"waiting for job {job_id} to finish ..."):
            state = wait_for_job(config, job_id)
        if state != "FINISHED":
            raise RuntimeError(f"job {job_id} ended {state}: {job_failure(config, job_id)}")
        console.print(f"job {job_id} finished")
    return 0


def cmd_job_list(config, args) -> int:
    from connectors.consumer_lag import consumer_lag
    from spendstream.flink_client import list_jobs
    from spendstream.tables import print_consumer_lag

    table = Table("id", "name", "state", "uptime", "last checkpoint", "records in", "records out")
    for job in list_jobs(config):
        table.add_row(
            job["id"],
            job["name"],
            job["state"],
            f"{job['uptime_s']}s",
            job["last_checkpoint"] or "-",
            f"{job['records_in']:,}",
            f"{job['records_out']:,}",
        )
    console.print(table)
    print_consumer_lag(console, consumer_lag(config))
    return 0


def cmd_job_metrics(config, args) -> int:
    from spendstream.flink_client import pipeline_metrics

    table = Table("metric", "value", title=f"job {args.job_id}")
    for name, value in sorted(pipeline_metrics(config, args.job_id).items()):
        table.add_row(name, f"{value:,.0f}")
    console.print(table)
    return 0


def cmd_job_stop(config, args) -> int:
    from spendstream.flink_client import stop_with_savepoint

    with console.status(f"stopping job {args.job_id} with a savepoint ..."):
        location = stop_with_savepoint(config, args.job_id, args.savepoint)
    console.print(f"job {args.job_id} stopped; savepoint: {location}")
    console.print(f"resume with: spendstream job resume --from {location}")
    return 0


def cmd_job_cancel(config, args) -> int:
    from spendstream.flink_client import cancel

    cancel(config, args.job_id)
    console.print(f"job {args.job_id} cancelled")
    return 0


def cmd_sink(config, args) -> int:
    from connectors.influx_sink import InfluxSink
    from connectors.process_metrics import serve_metrics

    serve_metrics(args.metrics_port)
    with console.status(f"writing aggregates to InfluxDB ({config.influx.mode}) at {config.influx.url} ..."):
        stats = InfluxSink(config).run(until_idle_s=args.until_idle)
    console.print(
        f"sink: {stats.records} records read, {stats.points} points written, "
        f"{stats.dead_letters} dead letters, {stats.retries} retries"
    )
    return 0


def cmd_report(config, args) -> int:
    from connectors.dashboard_report import write_dashboard_report

    with console.status("querying InfluxDB for every dashboard panel ..."):
        had_data = write_dashboard_report(config.influx, args.out, args.days)
    empty = [panel for panel, complete in had_data.items() if not complete]
    console.print(f"wrote {args.out}: {len(had_data)} panels, {len(had_data) - len(empty)} with data")
    for panel in empty:
        console.print(f"  [yellow]no data:[/] {panel}")
    return 0


def cmd_health(config, args) -> int:
    from connectors.pipeline_health import collect_health

    console.print(f"writing pipeline health to InfluxDB {config.influx.url} every {args.every:g}s (Ctrl-C stops)")
    collect_health(
        config, args.every, args.rounds, on_round=lambda n, points: console.print(f"round {n}: {points} points")
    )
    return 0


def cmd_alerts(config, args) -> int:
    from connectors.alerts import print_alerts

    if args.action == "forward":
        return cmd_alerts_forward(config, args)
    if args.action == "mark":
        return cmd_alerts_mark(config, args)
    print_alerts(
        config,
        console,
        as_json=args.json,
        from_beginning=args.from_beginning,
        group=args.group,
        until_idle_s=args.until_idle,
    )
    return 0


def cmd_alerts_mark(config, args) -> int:
    from pipelines.anomaly import raise_factor
    from spendstream.alert_feedback import mark

    if not args.alert_id or not (args.confirmed or args.false_positive):
        raise ValueError("usage: spendstream alerts mark ALERT_ID --confirmed | --false-positive [--note TEXT]")
    label, counts = mark(config, args.alert_id, "confirmed" if args.confirmed else "false_positive", args.note)
    console.print(
        f"marked {label['alert_id']} ({label['kind']}, {label['account_id']} {label['service']}) as "
        f"{label['verdict'].replace('_', ' ')} on {config.kafka.topic('alert_label')}"
    )
    if counts is not None:
        marks = counts.get(label["service"], 0)
        console.print(
            f"{label['account_id']} {label['service']}: {marks} anomal{'ies' if marks != 1 else 'y'} marked false "
            f"positive, its anomaly thresholds now ×{raise_factor(marks):.2f}; the running job applies this from "
            "its next hour"
        )
    return 0


def cmd_alerts_forward(config, args) -> int:
    from connectors.alert_forwarder import WEBHOOK_ENV, WebhookForwarder, forward_alerts, webhook_url

    if args.webhook:
        raise ValueError(
            "--webhook URL is refused: a webhook URL is a credential and the command line is visible to every "
            f"user of this machine; set {WEBHOOK_ENV} or pass --webhook-file FILE"
        )
    forwarder = WebhookForwarder(webhook_url(args.webhook_file, os.environ), args.template)
    group = args.group or f"{config.kafka.consumer_group}-webhook"
    console.print(f"forwarding alerts of {config.kafka.topic('alert')} to {forwarder.where} (group {group}) ...")
    stats = forward_alerts(config, forwarder, group, args.until_idle)
    console.print(f"delivered {stats.delivered}, duplicates skipped {stats.duplicates}, retries {stats.retries}")
    return 0


def date_ms(text: str) -> int:
    """``YYYY-MM-DD`` → epoch ms at midnight UTC (an argparse type: a bad date is a usage error)."""
    try:
        return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01") from None


def cmd_recommend(config, args) -> int:
    from pipelines.optimize.catalog import DEFAULT_CATALOG, load_catalog
    from spendstream.recommend import recommend

    catalog = load_catalog(args.catalog or DEFAULT_CATALOG)
    result = recommend(args.path, args.metrics, args.out, catalog, args.as_of)
    live = [item for advice in result.advice.values() for item in advice.live]
    total = sum((item.potential_savings for item in live), Decimal(0))
    console.print(
        f"rows {result.summary.rows_read} (rejected {result.summary.rejected}), metric rows {result.metric_rows} "
        f"(rejected {sum(result.metric_rejects.values())}), catalog {catalog.snapshot_date}"
    )
    for reason, count in (result.rejected + result.metric_rejects).most_common():
        console.print(f"  rejected {count}: {reason}")
    console.print(f"{len(live)} recommendations, ${total}/month → {args.out / 'recommendations.jsonl'}, report.html")
    return 0


def cmd_backtest(config, args) -> int:
    from pipelines.enrichment import load_directory
    from spendstream.backtest.runner import backtest

    accounts = args.accounts or Path(config.accounts_file)
    result = backtest(
        args.path,
        args.out,
        load_directory(accounts),
        args.format,
        args.labels,
        runner=args.runner,
        beam_options=args.beam_option,
    )
    metrics = result.metrics
    console.print(
        f"rows {metrics['rows_read']} (rejected {metrics['rows_rejected']}), series {metrics['series']}, "
        f"anomaly alerts {metrics['anomaly_alerts']}, forecasts {metrics['forecasts']}, "
        f"projected overspend alerts {metrics['projected_overspend_alerts']}"
    )
    if "detection" in metrics:
        d = metrics["detection"]
        console.print(
            f"detection: precision {d['precision']}, recall {d['recall']}, F1 {d['f1']}, "
            f"median delay {d['median_delay_h']} h"
        )
    f = metrics["forecast"]
    console.print(f"forecast: MAPE {f['mape']} vs seasonal naive {f['seasonal_naive_mape']}")
    console.print(
        f"wrote {args.out}/anomalies.jsonl, forecasts.jsonl, forecast_accuracy.jsonl, metrics.json, report.html"
    )
    return 0


def cmd_metrics_poll(config, args) -> int:
    from connectors.cloudwatch import CloudWatchPoller

    poller = CloudWatchPoller(config)
    if not args.once:
        console.print(f"polling CloudWatch ({config.cloudwatch.region}) every {config.cloudwatch.period_s}s ...")
        poller.run()
    result = poller.poll_once()
    console.print(f"{result.produced} datapoints from {result.resources} resources, {result.periods} periods")
    return 0


def cmd_metrics_replay(config, args) -> int:
    from connectors.metric_replay import replay_metrics
    from connectors.replay import format_offsets
    from pipelines.metrics import MetricSeries

    if bool(args.resource_id) != bool(args.metric):
        console.print(
            "[red]--resource-id and --metric go together[/] (omit both for a timestamp,resource_id,metric,value file)"
        )
        return 2
    series = (
        MetricSeries(args.resource_id, args.metric, args.namespace, args.unit, args.account_id, args.region)
        if args.resource_id
        else None
    )
    with console.status(f"replaying {args.path} into {config.kafka.topic('metrics')} ..."):
        summary = replay_metrics(args.path, series, config)
    console.print(f"rows read {summary.rows_read}, produced {summary.produced}, rejected {summary.rejected}")
    console.print(f"end offsets of {config.kafka.topic('metrics')}: {format_offsets(summary.end_offsets)}")
    for reason, count in summary.reasons.items():
        console.print(f"  rejected {count}: {reason}")
    return 0


def cmd_api_serve(config, args) -> int:
    from dataclasses import replace

    from spendstream.api.app import serve

    if args.port:
        config = replace(config, api=replace(config.api, port=args.port))
    scheme = "https" if config.api.tls_cert_file else "http"
    console.print(f"API on {scheme}://{config.api.host}:{config.api.port} (/v1, /graphql, /openapi.json)")
    serve(config)
    return 0


def cmd_api_token(config, args) -> int:
    from spendstream.api.access import TokenKeys

    keys = TokenKeys.from_settings(config.api)
    grants = dict.fromkeys(args.account, args.permission)
    print(keys.mint(args.subject, grants, (args.role,), args.ttl or config.api.token_ttl_s))
    return 0


def cmd_costs(config, args) -> int:
    from connectors.influx_query import daily_cost_by_account
    from spendstream.tables import print_daily_costs

    print_daily_costs(console, daily_cost_by_account(config.influx))
    return 0


def cmd_models(config, args) -> int:
    from spendstream.models import model_families
    from spendstream.tables import print_models

    print_models(console, model_families(config))
    return 0


def cmd_demo(config, args) -> int:
    from spendstream.demo import run_demo

    return run_demo(config, args.sample, console)


if __name__ == "__main__":
    sys.exit(main())
