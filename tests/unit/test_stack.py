from spendstream.config import load_config
from spendstream.stack import LocalStack


def test_a_stack_whose_broker_keeps_topics_in_memory_runs_no_seaweedfs(tmp_path):
    env = {"SPENDSTREAM_STACK_STATE_DIR": str(tmp_path)}
    durable = LocalStack(load_config(None, env=env))
    in_memory = LocalStack(load_config(None, env={**env, "SPENDSTREAM_STACK_KAFKA_STORAGE": "memory"}))
    assert durable.durable_kafka and not in_memory.durable_kafka
    seaweedfs = next(row for row in in_memory.status() if row.name == "seaweedfs (s3)")
    assert (seaweedfs.address, seaweedfs.healthy) == ("-", True), "a stack without SeaweedFS is not unhealthy for it"
    assert seaweedfs.detail == "off (stack.kafka_storage: memory)"
    durable_row = next(row for row in durable.status() if row.name == "seaweedfs (s3)")
    assert durable_row.address == durable.endpoints["s3"] and not durable_row.detail.startswith("off")
