"""Security settings reach every Kafka client; secrets never leave the environment; bad config is named."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from connectors.kafka_io import client_settings
from jobs.cost_aggregation import kafka_properties
from spendstream.config import ConfigError, load_config, to_env

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "SPENDSTREAM_KAFKA_SASL_PASSWORD": "pw-SECRET-kafka",
    "SPENDSTREAM_INFLUX_TOKEN": "tok-SECRET-influx",
    "SPENDSTREAM_API_JWT_SECRET": "tok-SECRET-api-jwt-secret-of-32-bytes",
}


def secure_env(tmp_path: Path) -> dict[str, str]:
    cafile = tmp_path / "ca.pem"
    cafile.write_text("-----BEGIN CERTIFICATE-----\n")
    return {
        "KAFKA_BOOTSTRAP": "broker-1:9093,broker-2:9093",
        "SPENDSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SPENDSTREAM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "SPENDSTREAM_KAFKA_SASL_USERNAME": "spendstream-svc",
        "SPENDSTREAM_KAFKA_SSL_CAFILE": str(cafile),
        "SPENDSTREAM_STACK_STATE_DIR": str(tmp_path / "state"),
        **SECRETS,
    }


def test_sasl_and_tls_settings_reach_the_python_clients_and_the_flink_connector(tmp_path):
    config = load_config(None, env=secure_env(tmp_path))
    python_clients = client_settings(config)  # every producer and consumer (replay, sink, alerts, ingest) uses it
    assert python_clients == {
        "bootstrap_servers": ["broker-1:9093", "broker-2:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "spendstream-svc",
        "sasl_plain_password": SECRETS["SPENDSTREAM_KAFKA_SASL_PASSWORD"],
        "ssl_cafile": str(tmp_path / "ca.pem"),
    }
    flink = kafka_properties(config)
    for option in (
        "'properties.security.protocol' = 'SASL_SSL'",
        "'properties.sasl.mechanism' = 'SCRAM-SHA-512'",
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="spendstream-svc" '
        f'password="{SECRETS["SPENDSTREAM_KAFKA_SASL_PASSWORD"]}";',
        "'properties.ssl.truststore.type' = 'PEM'",
        f"'properties.ssl.truststore.location' = '{tmp_path / 'ca.pem'}'",
    ):
        assert option in flink


def test_secrets_stay_out_of_child_environments_reprs_dry_runs_and_errors(tmp_path):
    env = {**os.environ, **secure_env(tmp_path), "SPENDSTREAM_FLINK_REST_URL": "http://127.0.0.1:1"}
    config = load_config(None, env=env)
    cli = str(ROOT / ".venv" / "bin" / "spendstream")
    dry_run = subprocess.run([cli, "job", "submit", "--dry-run"], env=env, capture_output=True, text=True)
    failing = subprocess.run([cli, "replay", str(tmp_path / "missing.csv")], env=env, capture_output=True, text=True)
    assert dry_run.returncode == 0 and "flink" in dry_run.stdout
    assert failing.returncode != 0 and "missing.csv" in failing.stdout + failing.stderr
    seen = [repr(config), str(to_env(config)), dry_run.stdout, dry_run.stderr, failing.stdout, failing.stderr]
    for secret in SECRETS.values():
        assert not any(secret in text for text in seen), secret


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"SPENDSTREAM_KAFKA_SECURITY_PROTOCOL": "TLS"}, "kafka.security_protocol: 'TLS' is not one of"),
        ({"SPENDSTREAM_KAFKA_SASL_MECHANISM": "GSSAPI"}, "kafka.sasl_mechanism: 'GSSAPI' is not one of"),
        ({"SPENDSTREAM_KAFKA_SASL_PASSWORD": ""}, "SPENDSTREAM_KAFKA_SASL_PASSWORD are required"),
        ({"SPENDSTREAM_KAFKA_SSL_CAFILE": "/nowhere/ca.pem"}, "kafka.ssl_cafile: /nowhere/ca.pem is not a readable"),
        ({"SPENDSTREAM_FLINK_PARALLELISM": "two"}, "SPENDSTREAM_FLINK_PARALLELISM: 'two' is not a valid int"),
        ({"SPENDSTREAM_INFLUX_BATCH_SIZE": "0"}, "influx.batch_size: must be at least 1, is 0"),
    ],
)
def test_invalid_settings_are_refused_naming_the_key(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_config(None, env={**secure_env(tmp_path), **changes})


def test_a_setting_of_the_wrong_type_in_the_file_names_its_key(tmp_path):
    path = tmp_path / "spendstream.yaml"
    path.write_text("flink:\n  checkpoint_interval_s: often\n")
    with pytest.raises(ConfigError, match="flink.checkpoint_interval_s: 'often' is not a valid int"):
        load_config(path, env={})
