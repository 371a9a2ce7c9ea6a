import json
from dataclasses import replace
from pathlib import Path

import pytest

from spendstream.config import ConfigError, load_config


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
    config = load_config(None, env={"SPENDSTREAM_INFLUX_TOKEN": "t", "SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)})
    assert config.influx.token == "t"
    assert "t" not in repr(config.influx).split("token")[-1][:5]


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


def test_example_config_documents_every_setting_and_loads(tmp_path):
    example = Path(__file__).parents[2] / "deploy" / "local" / "spendstream.example.yaml"
    config = load_config(example, env={"SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)})
    assert config == load_config(None, env={"SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)})


def test_config_round_trips_through_the_environment(tmp_path):
    path = tmp_path / "spendstream.yaml"
    path.write_text("kafka:\n  bootstrap: b:1\n  topics:\n    alert: {name: a.b, partitions: 2}\ninflux:\n  mode: v2\n")
    config = load_config(path, env={"SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)})
    from spendstream.config import to_env

    # the accounts file travels as an absolute path, so a job started elsewhere finds it
    assert load_config(None, env=to_env(config)) == replace(config, accounts_file=str(Path("accounts.yaml").resolve()))
