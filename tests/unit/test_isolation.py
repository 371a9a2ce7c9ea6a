"""The test suite ignores the caller's environment and config file (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spendstream.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_settings_seen_by_tests_are_the_defaults():
    config = load_config()
    assert (config.kafka.bootstrap, config.influx.url, config.flink.rest_url) == ("", "", "")
    assert config.cloudwatch.endpoint_url == "" and config.kafka.consumer_group == "spendstream"
    assert not [name for name in os.environ if name.startswith(("KAFKA_", "AWS_"))]


def test_a_callers_servers_and_config_file_never_reach_the_tests(tmp_path):
    """The probe above, run by a pytest whose caller points everything at foreign servers."""
    (tmp_path / "spendstream.yaml").write_text("kafka:\n  bootstrap: 127.0.0.1:3\n  consumer_group: theirs\n")
    (tmp_path / ".spendstream").mkdir()
    (tmp_path / ".spendstream" / "stack.json").write_text(
        '{"kafka": "127.0.0.1:4", "influx": "http://127.0.0.1:5", "flink_rest": "http://127.0.0.1:6"}'
    )
    hostile = {
        **os.environ,
        "KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "SPENDSTREAM_INFLUX_URL": "http://127.0.0.1:2",
        "SPENDSTREAM_CLOUDWATCH_ENDPOINT_URL": "http://127.0.0.1:7",
        "AWS_ACCESS_KEY_ID": "theirs",
    }
    hostile.pop("SPENDSTREAM_CONFIG")
    hostile.pop("SPENDSTREAM_STACK_STATE_DIR")
    probe = f"{Path(__file__)}::test_settings_seen_by_tests_are_the_defaults"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT), probe],
        cwd=tmp_path,
        env=hostile,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "1 passed" in run.stdout
