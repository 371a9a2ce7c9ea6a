"""Kafka over TLS for real: every client verifies the broker's certificate; an untrusted one is refused.

A broker of its own (Tansu) behind Debian's stunnel4 terminating TLS with a certificate from a
throw-away CA, advertising only the TLS endpoint. Replay, the Flink job's Kafka connector and the
InfluxDB sink all go through it and the books come out exact; a client that trusts another CA
cannot even bootstrap.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from kafka.errors import KafkaTimeoutError

from connectors.influx_sink import InfluxSink
from connectors.kafka_io import producer
from connectors.replay import replay
from spendstream.config import Config
from spendstream.flink_client import job_failure, submit, wait_for_job
from spendstream.processes import free_port, port_open
from spendstream.stack import tansu_command
from tests.conformance.bill import charges, write_cur2
from tests.integration.conftest import serve
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_restatement import assert_books_match
from tests.tls_certs import make_ca, make_server_cert

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory) -> tuple[str, Path, Path]:
    """(bootstrap of the TLS endpoint, the CA that signed it, a CA that did not)."""
    stunnel = shutil.which("stunnel4") or shutil.which("stunnel")
    if stunnel is None:
        pytest.fail("stunnel4 is not installed: run `make test` (it installs it with apt)")
    folder = tmp_path_factory.mktemp("tls")
    ca, ca_key, ca_cert = make_ca(folder, "spendstream-test-ca")
    untrusted, _, _ = make_ca(folder, "untrusted-ca")
    cert, key = make_server_cert(folder, ca_key, ca_cert)
    plain, tls = free_port(), free_port()
    broker = tansu_command(f"tcp://127.0.0.1:{plain}", "memory://tansu/", advertised=f"tcp://127.0.0.1:{tls}")
    conf = folder / "stunnel.conf"
    conf.write_text(
        f"foreground = yes\npid =\n[kafka]\naccept = 127.0.0.1:{tls}\nconnect = 127.0.0.1:{plain}\n"
        f"cert = {cert}\nkey = {key}\n"
    )
    with (
        serve(broker, lambda: port_open(plain), "tansu (TLS test)"),
        serve([stunnel, str(conf)], lambda: port_open(tls), "stunnel4"),
    ):
        yield f"127.0.0.1:{tls}", ca, untrusted


def over_tls(stack: Config, bootstrap: str, cafile: Path) -> Config:
    config = isolated(stack, "tls")
    kafka = replace(config.kafka, bootstrap=bootstrap, security_protocol="SSL", ssl_cafile=str(cafile))
    return replace(config, kafka=kafka)


def test_replay_job_and_sink_keep_the_books_over_tls(stack: Config, tls_broker, tmp_path):
    bootstrap, ca, _ = tls_broker
    config = over_tls(stack, bootstrap, ca)
    bill = charges(days=2, seed=7)
    write_cur2(bill, tmp_path / "export.csv")
    summary = replay(tmp_path / "export.csv", config, show_progress=False)
    assert summary.produced == len(bill)
    job_id = submit(config, "cost-aggregation", summary.backfill_args())
    assert wait_for_job(config, job_id) == "FINISHED", job_failure(config, job_id)
    assert InfluxSink(config).run(until_idle_s=3).points > 0
    assert_books_match(config, bill)


def test_a_client_that_does_not_trust_the_brokers_certificate_is_refused(stack: Config, tls_broker, caplog):
    """Refused for the certificate, not for any other reason a bootstrap can fail (a wrong port, a dead broker)."""
    bootstrap, _, untrusted = tls_broker
    with (
        caplog.at_level(logging.WARNING, logger="kafka"),
        pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"),
    ):
        producer(over_tls(stack, bootstrap, untrusted))
    failures = [r.getMessage() for r in caplog.records if r.name.startswith("kafka")]
    assert any("CERTIFICATE_VERIFY_FAILED" in message for message in failures), failures
