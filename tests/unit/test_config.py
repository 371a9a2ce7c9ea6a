import json
from dataclasses import fields, is_dataclass, replace
from pathlib import Path

import pytest
import yaml

from spendstream.config import SECRET_ENV, STRUCTURED, Config, ConfigError, load_config


def test_environment_overrides_file(tmp_path):
    path = tmp_path / "spendstream.yaml"
    path.write_text("kafka:\n  bootstrap: file:9092\ninflux:\n  mode: v2\n  batch_size: 10\n")
    config = load_config(
        path,
        env={
            "KAFKA_BOOTSTRAP": "env:9092",
            "SPENDSTREAM_INFLUX_BATCH_SIZE": "20",
            "SPENDSTREAM_STACK_STATE_DIR": str(tmp_path / "state"),
        },
    )
    assert config.kafka.bootstrap == "env:9092"
    assert (config.influx.mode, config.influx.batch_size) == ("v2", 20)


def test_secrets_come_only_from_the_environment(tmp_path):
    path = tmp_path / "spendstream.yaml"
    path.write_text("influx:\n  token: s3cret\n")
    with pytest.raises(ConfigError, match="secret"):
        load_config(path, env={})
    secret = "tok-SECRET-4711"
    config = load_config(None, env={"SPENDSTREAM_INFLUX_TOKEN": secret, "SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)})
    assert config.influx.token == secret
    assert secret not in repr(config) and secret not in str(config.influx)


def test_unknown_setting_is_named(tmp_path):
    path = tmp_path / "spendstream.yaml"
    path.write_text("kafka:\n  bootstrp: x\n")
    with pytest.raises(ConfigError, match="unknown setting kafka.bootstrp"):
        load_config(path, env={})


def test_topics_from_config(tmp_path):
    path = tmp_path / "spendstream.yaml"
    path.write_text("kafka:\n  topics:\n    raw_cost: {name: my.raw, partitions: 6}\n")
    config = load_config(path, env={"SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)})
    assert (config.kafka.topics["raw_cost"].name, config.kafka.topics["raw_cost"].partitions) == ("my.raw", 6)
    assert config.kafka.topic("alert") == "spendstream.alerts"


def test_empty_endpoints_come_from_the_running_embedded_stack(tmp_path):
    (tmp_path / "stack.json").write_text(
        json.dumps({"kafka": "127.0.0.1:1", "influx": "http://127.0.0.1:2", "flink_rest": "http://127.0.0.1:3"})
    )
    config = load_config(None, env={"SPENDSTREAM_STACK_STATE_DIR": str(tmp_path), "SPENDSTREAM_INFLUX_URL": "http://x"})
    assert (config.kafka.bootstrap, config.influx.url, config.flink.rest_url) == (
        "127.0.0.1:1",
        "http://x",
        "http://127.0.0.1:3",
    )


def setting_keys(obj, where: str = "") -> set[str]:
    """Every non-secret setting of a config object as a dotted key (topics and queries as one key each)."""
    keys = set()
    for f in fields(obj):
        value = getattr(obj, f.name)
        if (where.rstrip("."), f.name) in SECRET_ENV:
            continue
        keys |= setting_keys(value, f"{where}{f.name}.") if is_dataclass(value) else {f"{where}{f.name}"}
    return keys


def document_keys(document: dict, where: str = "") -> set[str]:
    keys = set()
    for key, value in document.items():
        nested = isinstance(value, dict) and key not in STRUCTURED
        keys |= document_keys(value, f"{where}{key}.") if nested else {f"{where}{key}"}
    return keys


def test_example_config_documents_every_setting_and_loads(tmp_path):
    example = Path(__file__).parents[2] / "deploy" / "local" / "spendstream.example.yaml"
    assert document_keys(yaml.safe_load(example.read_text())) == setting_keys(Config())
    config = load_config(example, env={"SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)})
    assert config == load_config(None, env={"SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    "text, message",
    [
        ("influx:\n  batch_size: 2.5\n", "influx.batch_size: 2.5 is float, expected int"),
        ("flink:\n  parallelism: true\n", "flink.parallelism: True is bool, expected int"),
        ("cloudwatch:\n  account_id: 123456789012\n", "account_id: 123456789012 is int, expected str \\(quote it"),
        ("api:\n  port: [1]\n", "api.port: \\[1\\] is list"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_not_converted(tmp_path, text, message):
    path = tmp_path / "spendstream.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={"SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)})


def test_an_unknown_kafka_storage_is_refused_with_the_ones_there_are(tmp_path):
    env = {"SPENDSTREAM_STACK_STATE_DIR": str(tmp_path), "SPENDSTREAM_STACK_KAFKA_STORAGE": "postgres"}
    with pytest.raises(ConfigError, match="stack.kafka_storage: 'postgres' is not one of s3, memory"):
        load_config(None, env=env)
    assert load_config(None, env={**env, "SPENDSTREAM_STACK_KAFKA_STORAGE": "memory"}).stack.kafka_storage == "memory"


def test_numbers_from_the_environment_are_parsed_strictly(tmp_path):
    with pytest.raises(ConfigError, match="SPENDSTREAM_INFLUX_BATCH_SIZE: '2.5' is not a valid int"):
        load_config(None, env={"SPENDSTREAM_INFLUX_BATCH_SIZE": "2.5", "SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)})


def test_config_round_trips_through_the_environment(tmp_path):
    path = tmp_path / "spendstream.yaml"
    path.write_text("kafka:\n  bootstrap: b:1\n  topics:\n    alert: {name: a.b, partitions: 2}\ninflux:\n  mode: v2\n")
    config = load_config(path, env={"SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)})
    from spendstream.config import to_env

    # the accounts file travels as an absolute path, so a job started elsewhere finds it
    assert load_config(None, env=to_env(config)) == replace(config, accounts_file=str(Path("accounts.yaml").resolve()))
