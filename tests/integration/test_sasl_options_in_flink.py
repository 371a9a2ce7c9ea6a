"""A SASL password reaches the Flink Kafka connector intact, whatever characters it holds.

The password travels inside two quoted languages: Kafka's JAAS option text inside a Flink SQL
string literal. The job's real source DDL is parsed by Flink's SQL parser and its JAAS option by
Kafka's own ``JaasConfig``, both in the JVM the job runs in; the credentials read back must be
exactly the configured ones, with no option added.
"""

from __future__ import annotations

import pytest
from pyflink.java_gateway import get_gateway
from pyflink.table import EnvironmentSettings, TableEnvironment

from jobs.cost_aggregation import source_ddl
from spendstream.config import load_config

pytestmark = pytest.mark.integration
HOSTILE = [
    'pa"ss',
    "pa'ss",
    "back\\slash\\",
    'semi;colon" debug="true',
    "all of \" ' \\ ; at once';--",
    "line\nbreak",
]


@pytest.mark.parametrize("password", HOSTILE)
def test_jaas_credentials_survive_sql_and_jaas_quoting(tmp_path, password):
    config = load_config(
        None,
        env={
            "KAFKA_BOOTSTRAP": "127.0.0.1:9",
            "SPENDSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "SPENDSTREAM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "SPENDSTREAM_KAFKA_SASL_USERNAME": "svc \"quoted' user",
            "SPENDSTREAM_KAFKA_SASL_PASSWORD": password,
            "SPENDSTREAM_STACK_STATE_DIR": str(tmp_path),
        },
    )
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    ddl = source_ddl("costs", "spendstream.cost.raw", config, None, True)
    t_env.execute_sql(ddl.replace("CREATE TEMPORARY TABLE", "CREATE TABLE"))
    jvm = get_gateway().jvm
    table = (
        t_env._j_tenv.getCatalog("default_catalog")
        .get()
        .getTable(jvm.org.apache.flink.table.catalog.ObjectPath("default_database", "costs"))
    )
    jaas = table.getOptions().get("properties.sasl.jaas.config")
    entries = jvm.org.apache.kafka.common.security.JaasConfig("KafkaClient", jaas).getAppConfigurationEntry(
        "KafkaClient"
    )
    assert len(entries) == 1
    assert entries[0].getLoginModuleName() == "org.apache.kafka.common.security.scram.ScramLoginModule"
    assert dict(entries[0].getOptions()) == {"username": "svc \"quoted' user", "password": password}
