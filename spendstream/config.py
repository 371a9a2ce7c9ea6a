"""One typed configuration object: defaults, then a YAML file, then environment variables.

Every scalar setting can be overridden as ``SPENDSTREAM_<SECTION>_<FIELD>`` (for example
``SPENDSTREAM_INFLUX_MODE=v1``); ``KAFKA_BOOTSTRAP`` is accepted as the usual short form.
Secrets (``SPENDSTREAM_INFLUX_TOKEN``, ``SPENDSTREAM_INFLUX_PASSWORD``,
``SPENDSTREAM_KAFKA_SASL_PASSWORD``) are read from the environment only, never from the file.
An empty endpoint means "the embedded stack": it is filled from the running stack's state file.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from pipelines.optimize.catalog import DEFAULT_CATALOG, Catalog, load_catalog
from pipelines.optimize.settings import CommitmentTerms, MixSettings, OptimizerSettings, RightsizingSettings

SECRET_ENV = {
    ("influx", "token"): "SPENDSTREAM_INFLUX_TOKEN",
    ("influx", "password"): "SPENDSTREAM_INFLUX_PASSWORD",
    ("kafka", "sasl_password"): "SPENDSTREAM_KAFKA_SASL_PASSWORD",
}
ALIASES = {"KAFKA_BOOTSTRAP": ("kafka", "bootstrap")}
SECTIONS = ("kafka", "influx", "flink", "ingest", "cloudwatch", "stack", "optimizer", "api")


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int = 3
    retention_ms: int = 30 * 24 * 3600 * 1000
    compacted: bool = False  # keep the latest record of every key for good (cleanup.policy=compact)


def _topics() -> dict[str, Topic]:
    return {
        "raw_cost": Topic("spendstream.cost.raw"),
        "restated_cost": Topic("spendstream.cost.restated"),  # newer deliveries of published periods
        "aggregate": Topic("spendstream.cost.hourly"),
        "unit_cost": Topic("spendstream.cost.units.hourly"),  # per customer and per feature, shared cost allocated
        "live_aggregate": Topic("spendstream.cost.hourly.live", retention_ms=7 * 24 * 3600 * 1000),  # open hours
        "alert": Topic("spendstream.alerts", partitions=1),
        "dead_letter": Topic("spendstream.dead-letter", partitions=1),
        "metrics": Topic("spendstream.metrics"),
        "utilization": Topic("spendstream.utilization.hourly"),
        "anomaly": Topic("spendstream.anomalies", partitions=1),
        "forecast": Topic("spendstream.forecasts"),
        "forecast_accuracy": Topic("spendstream.forecast-accuracy"),  # each forecast scored as its day arrives
        "alert_label": Topic("spendstream.alert-labels", partitions=1, compacted=True),  # people's verdicts
        "account_settings": Topic("spendstream.account-settings", partitions=1, compacted=True),  # API changes
        "recommendation": Topic("spendstream.recommendations", partitions=1),  # per account-day, opened and closed
        "optimization_event": Topic("spendstream.optimization-events", partitions=1),  # advice the bill shows done
    }


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str = ""
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    ssl_cafile: str = ""  # PEM bundle of the CA that signed the brokers' certificates (SSL, SASL_SSL)
    consumer_group: str = "spendstream"
    topics: dict[str, Topic] = field(default_factory=_topics)

    def topic(self, role: str) -> str:
        return self.topics[role].name

    @property
    def job_group(self) -> str:
        """The cost job's consumer group (it commits offsets at checkpoints, for lag only)."""
        return f"{self.consumer_group}-cost-aggregation"

    @property
    def sink_group(self) -> str:
        """The InfluxDB sink's consumer group."""
        return f"{self.consumer_group}-influx-sink"


@dataclass(frozen=True)
class InfluxSettings:
    mode: str = "v1"
    url: str = ""
    org: str = "spendstream"
    bucket: str = "spendstream"
    database: str = "spendstream"
    username: str = ""
    token: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    batch_size: int = 5000


@dataclass(frozen=True)
class FlinkSettings:
    rest_url: str = ""
    parallelism: int = 1
    checkpoint_interval_s: int = 10
    checkpoint_dir: str = ""
    out_of_orderness_s: int = 300
    restart_attempts: int = 3
    python_executable: str = ""
    python_path: str = ""


@dataclass(frozen=True)
class CloudWatchQuery:
    """One metric to poll for every resource that reports it, e.g. AWS/EC2 CPUUtilization by InstanceId."""

    namespace: str
    metric: str
    dimension: str
    stat: str = "Average"
    unit: str = ""


def _cloudwatch_queries() -> tuple[CloudWatchQuery, ...]:
    return (
        CloudWatchQuery("AWS/EC2", "CPUUtilization", "InstanceId", unit="Percent"),
        CloudWatchQuery("AWS/EC2", "NetworkIn", "InstanceId", stat="Sum", unit="Bytes"),
        CloudWatchQuery("AWS/EC2", "NetworkOut", "InstanceId", stat="Sum", unit="Bytes"),
        CloudWatchQuery("AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", unit="Percent"),
    )


@dataclass(frozen=True)
class CloudWatchSettings:
    region: str = "us-east-1"
    endpoint_url: str = ""
    account_id: str = ""
    period_s: int = 300
    lag_s: int = 600
    lookback_s: int = 3600
    queries: tuple[CloudWatchQuery, ...] = field(default_factory=_cloudwatch_queries)


@dataclass(frozen=True)
class IngestSettings:
    """POST /v1/cost-events and /v1/metric-events on the API server (spendstream/api/ingest.py)."""

    max_body_bytes: int = 1_000_000
    max_events: int = 10_000  # per request
    client_timeout_s: float = 10.0  # a client that sends nothing for this long is cut off (408)


@dataclass(frozen=True)
class OptimizerConfig:
    """The optimization engine's settings (pipelines/optimize), for the job and ``recommend`` alike."""

    catalog: str = ""  # instance catalog JSON; empty: the one shipped (pipelines/optimize/instance_catalog.json)
    lookback_days: int = 14  # rightsizing and idle
    min_days: int = 14  # fewer days of CPU data: no rightsizing advice, and the finding says so
    cpu_percentile: float = 99.5
    cpu_headroom: float = 0.20
    commitment_lookback_days: int = 60
    forecast_days: int = 90  # the coming days a commitment is sized on (trend-projected)
    commitment_utilization: float = 0.96  # planned use of a commitment, so that noise keeps it ≥ 95% used
    term_years: int = 1
    payment_option: str = "no_upfront"
    alert_monthly_savings: float = 100.0  # a new recommendation saving at least this ($/month) is also an alert
    workload_tags: str = "user_workload,workload"  # tag keys naming a workload (instance_mix), first present wins
    spot_recovery_minutes: float = 10.0  # an interrupted spot instance is replaced and serving after this

    def settings(self) -> OptimizerSettings:
        return OptimizerSettings(
            rightsizing=RightsizingSettings(
                lookback_days=self.lookback_days,
                min_days=self.min_days,
                cpu_percentile=self.cpu_percentile,
                cpu_headroom=self.cpu_headroom,
            ),
            commitment_lookback_days=self.commitment_lookback_days,
            forecast_days=self.forecast_days,
            min_utilization=self.commitment_utilization,
            terms=CommitmentTerms(self.term_years, self.payment_option),
            workload_tags=tuple(key.strip() for key in self.workload_tags.split(",") if key.strip()),
            mix=MixSettings(recovery_minutes=self.spot_recovery_minutes),
        )

    def load_catalog(self) -> Catalog:
        return load_catalog(Path(self.catalog) if self.catalog else DEFAULT_CATALOG)


@dataclass(frozen=True)
class ApiSettings:
    """``spendstream api serve``. The HS256 secret comes from SPENDSTREAM_API_JWT_SECRET or a file, never from here."""

    host: str = "127.0.0.1"
    port: int = 8089
    jwt_secret_file: str = ""
    jwt_public_key_file: str = ""  # RS256 PEM: tokens from an identity provider
    token_ttl_s: int = 3600  # of tokens minted by `spendstream api token`
    max_query_depth: int = 8  # GraphQL: deeper queries are refused before they run
    max_page_size: int = 500  # anomalies and alerts per page
    tls_cert_file: str = ""  # required when host is not a loopback address
    tls_key_file: str = ""


@dataclass(frozen=True)
class StackSettings:
    state_dir: str = ".spendstream"
    kafka_port: int = 0
    s3_port: int = 0
    influx_port: int = 0
    flink_rest_port: int = 0
    pipeline: bool = True  # stack up also runs the cost job, the InfluxDB sink and the health writer
    # Where Tansu keeps the topics: "s3" (durable, on the embedded SeaweedFS) or "memory" (lost at
    # stop, no SeaweedFS): the broker without its storage, a benchmark's baseline (bench 4 and 9).
    kafka_storage: str = "s3"


@dataclass(frozen=True)
class Config:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    influx: InfluxSettings = field(default_factory=InfluxSettings)
    flink: FlinkSettings = field(default_factory=FlinkSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    cloudwatch: CloudWatchSettings = field(default_factory=CloudWatchSettings)
    stack: StackSettings = field(default_factory=StackSettings)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    api: ApiSettings = field(default_factory=ApiSettings)
    accounts_file: str = "accounts.yaml"

    @property
    def state_dir(self) -> Path:
        return Path(self.stack.state_dir).resolve()


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Defaults < file (``path``, ``$SPENDSTREAM_CONFIG`` or ./spendstream.yaml) < environment."""
    env = dict(os.environ if env is None else env)
    path = path or env.get("SPENDSTREAM_CONFIG") or ("spendstream.yaml" if Path("spendstream.yaml").exists() else None)
    document: dict[str, Any] = {}
    if path:
        try:
            document = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"cannot read config file {path}: {error}") from error
    config = _merge(Config(), document, "")
    config = _apply_env(config, env)
    validate(config)
    return with_embedded_endpoints(config)


PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
KAFKA_STORAGES = ("s3", "memory")


def validate(config: Config) -> None:
    """Refuse settings that cannot work, naming the key and what is wrong with it."""
    kafka = config.kafka
    if kafka.security_protocol not in PROTOCOLS:
        raise ConfigError(f"kafka.security_protocol: {kafka.security_protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if kafka.security_protocol.startswith("SASL_"):
        if kafka.sasl_mechanism not in SASL_MECHANISMS:
            raise ConfigError(
                f"kafka.sasl_mechanism: {kafka.sasl_mechanism!r} is not one of {', '.join(SASL_MECHANISMS)} "
                f"(needed with security_protocol {kafka.security_protocol})"
            )
        if not kafka.sasl_username or not kafka.sasl_password:
            raise ConfigError(
                "kafka.sasl_username and the environment variable SPENDSTREAM_KAFKA_SASL_PASSWORD are required "
                f"with security_protocol {kafka.security_protocol}"
            )
    if kafka.ssl_cafile and not Path(kafka.ssl_cafile).is_file():
        raise ConfigError(f"kafka.ssl_cafile: {kafka.ssl_cafile} is not a readable file (a PEM CA bundle)")
    if config.stack.kafka_storage not in KAFKA_STORAGES:
        raise ConfigError(
            f"stack.kafka_storage: {config.stack.kafka_storage!r} is not one of {', '.join(KAFKA_STORAGES)} "
            "(s3 keeps the topics on the embedded SeaweedFS; memory loses them when the broker stops)"
        )
    for key, value in {
        "flink.parallelism": config.flink.parallelism,
        "flink.checkpoint_interval_s": config.flink.checkpoint_interval_s,
        "influx.batch_size": config.influx.batch_size,
        "ingest.max_events": config.ingest.max_events,
        "ingest.client_timeout_s": config.ingest.client_timeout_s,
        "api.max_query_depth": config.api.max_query_depth,
        "api.max_page_size": config.api.max_page_size,
        "api.token_ttl_s": config.api.token_ttl_s,
        **{f"kafka.topics.{role}.partitions": topic.partitions for role, topic in kafka.topics.items()},
    }.items():
        if value < 1:
            raise ConfigError(f"{key}: must be at least 1, is {value}")
    validate_optimizer(config.optimizer)


def validate_optimizer(optimizer: OptimizerConfig) -> None:
    try:
        optimizer.settings()
    except ValueError as error:
        raise ConfigError(f"optimizer: {error}") from None
    if optimizer.catalog and not Path(optimizer.catalog).is_file():
        raise ConfigError(f"optimizer.catalog: {optimizer.catalog} is not a readable file (an instance catalog JSON)")


def _merge(obj: Any, document: dict[str, Any], where: str) -> Any:
    changes = {}
    known = {f.name: f for f in fields(obj)}
    for key, value in document.items():
        if key not in known:
            raise ConfigError(f"unknown setting {where}{key}; known: {', '.join(known)}")
        if (key, where.rstrip(".")) in {(k, s) for s, k in SECRET_ENV}:
            raise ConfigError(f"{where}{key} is a secret: set it in the environment, not in the file")
        current = getattr(obj, key)
        if is_dataclass(current):
            changes[key] = _merge(current, value or {}, f"{where}{key}.")
        elif key in STRUCTURED:
            changes[key] = _structured(key, current, value)
        else:
            changes[key] = _typed(f"{where}{key}", current, value)
    return replace(obj, **changes)


def _typed(key: str, current: Any, value: Any) -> Any:
    """``value`` as the type of the setting's default, never converted lossily; the error names the key.

    Text (an environment variable) is parsed; a YAML value must already be of the setting's type
    (an integer is accepted where a float is expected): ``2.5`` for an integer setting is refused
    rather than truncated to 2, and an unquoted number for a text setting (an account id that
    would lose its leading zeros) is refused rather than stringified.
    """
    kind = type(current)
    if isinstance(value, str) and kind is bool:  # bool("false") is True
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        if value.strip().lower() not in words:
            raise ConfigError(f"{key}: {value!r} is not true or false")
        return words[value.strip().lower()]
    if isinstance(value, str) and kind is not str:
        try:
            return kind(value.strip())
        except ValueError:
            raise ConfigError(f"{key}: {value!r} is not a valid {kind.__name__}") from None
    fits = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not fits:
        hint = " (quote it in YAML)" if kind is str else ""
        raise ConfigError(f"{key}: {value!r} is {type(value).__name__}, expected {kind.__name__}{hint}")
    return value


def _apply_env(config: Config, env: dict[str, str]) -> Config:
    sections = {}
    for section in SECTIONS:
        current = getattr(config, section)
        changes = {}
        for f in fields(current):
            name = SECRET_ENV.get((section, f.name)) or f"SPENDSTREAM_{section.upper()}_{f.name.upper()}"
            if name not in env:
                continue
            if f.name in STRUCTURED:  # JSON, e.g. {"raw_cost": {"name": ..., "partitions": ...}}
                changes[f.name] = _structured(f.name, getattr(current, f.name), json.loads(env[name]))
            else:
                changes[f.name] = _typed(name, getattr(current, f.name), env[name])
        for alias, (alias_section, alias_field) in ALIASES.items():
            if alias_section == section and alias in env:
                changes[alias_field] = env[alias]
        sections[section] = replace(current, **changes)
    accounts = env.get("SPENDSTREAM_ACCOUNTS_FILE", config.accounts_file)
    return replace(config, accounts_file=accounts, **sections)


def to_env(config: Config) -> dict[str, str]:
    """The settings as environment variables (secrets excluded), for child processes.

    ``flink run`` gets them, so a job sees the configuration of the command that submitted it.
    """
    env = {"SPENDSTREAM_ACCOUNTS_FILE": str(Path(config.accounts_file).resolve())}
    for section in SECTIONS:
        current = getattr(config, section)
        for f in fields(current):
            if (section, f.name) in SECRET_ENV:
                continue
            value = getattr(current, f.name)
            text = json.dumps(_plain(value)) if f.name in STRUCTURED else str(value)
            env[f"SPENDSTREAM_{section.upper()}_{f.name.upper()}"] = text
    env["SPENDSTREAM_STACK_STATE_DIR"] = str(config.state_dir)
    return env


STRUCTURED = ("topics", "queries")


def _structured(key: str, current: Any, value: Any) -> Any:
    """Topics merge into the defaults by role; CloudWatch queries replace the default list."""
    try:
        if key == "topics":
            return {**current, **{role: Topic(**spec) for role, spec in (value or {}).items()}}
        return tuple(CloudWatchQuery(**query) for query in value or ())
    except TypeError as error:
        raise ConfigError(f"{key}: {error}") from None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: asdict(v) for k, v in value.items()}
    return [asdict(v) for v in value]


def stack_file(config: Config) -> Path:
    return config.state_dir / "stack.json"


JWT_SECRET_ENV = "SPENDSTREAM_API_JWT_SECRET"


def api_secret_file(state_dir: Path) -> Path:
    """The embedded stack's own API token key (HS256), made on first use, readable by its owner only."""
    path = state_dir / "api-jwt-secret"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as key:
            key.write(secrets.token_urlsafe(48))
    return path


def with_embedded_endpoints(config: Config) -> Config:
    """Fill empty endpoints from the running embedded stack, when there is one (and its API token key)."""
    path = stack_file(config)
    if not path.exists():
        return config
    own_key = config.state_dir / "api-jwt-secret"
    if own_key.exists() and not (config.api.jwt_secret_file or config.api.jwt_public_key_file):
        config = replace(config, api=replace(config.api, jwt_secret_file=str(own_key)))
    endpoints = json.loads(path.read_text())
    kafka = config.kafka if config.kafka.bootstrap else replace(config.kafka, bootstrap=endpoints["kafka"])
    influx = config.influx if config.influx.url else replace(config.influx, url=endpoints["influx"])
    flink = config.flink if config.flink.rest_url else replace(config.flink, rest_url=endpoints["flink_rest"])
    return replace(config, kafka=kafka, influx=influx, flink=flink)


def require(value: str, what: str, env_name: str) -> str:
    """An endpoint that must be known; the error says how to provide it."""
    if not value:
        raise ConfigError(
            f"no {what} configured and no embedded stack running: run `spendstream stack up` or set {env_name}"
        )
    return value
