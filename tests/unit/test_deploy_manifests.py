"""The deployment manifests, validated against their schemas (they cannot be applied here).

Kubernetes core resources: kubernetes-validate's schemas, strict. FlinkDeployment: the
operator's CRD schema (tests/manifests/validate_flink.mjs). Compose: the Compose Specification.
Every spendstream command a manifest runs must parse with the real CLI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from spendstream.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
SCHEMAS = ROOT / "tests" / "manifests"
KUBERNETES_VERSION = "1.31"


def kubernetes_documents() -> list[dict]:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    return [doc for name in kustomization["resources"] for doc in yaml.safe_load_all((KUBERNETES / name).read_text())]


def validate_flink(text: str) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node and (SCHEMAS / "node_modules").exists(), "run deploy/local/setup.sh --test (installs node and npm ci)"
    return subprocess.run(
        [node, str(SCHEMAS / "validate_flink.mjs"), "-"], input=text, capture_output=True, text=True, timeout=60
    )


def test_kustomization_lists_every_manifest():
    listed = set(yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}


def test_core_resources_match_the_kubernetes_schemas_strictly():
    core = [doc for doc in kubernetes_documents() if doc["kind"] != "FlinkDeployment"]
    assert {doc["kind"] for doc in core} == {"ConfigMap", "Secret", "Deployment"}
    for doc in core:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    broken = next(doc for doc in core if doc["kind"] == "Deployment")
    broken["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMap"] = {"name": "x"}  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_flink_deployment_matches_the_operators_crd_schema():
    text = (KUBERNETES / "flinkdeployment.yaml").read_text()
    valid = validate_flink(text)
    assert valid.returncode == 0 and "1 FlinkDeployment(s) checked, 0 invalid" in valid.stdout, (
        valid.stdout + valid.stderr
    )
    invalid = validate_flink(text.replace("upgradeMode: savepoint", "upgradeMode: savepoints"))
    assert invalid.returncode == 1 and "upgradeMode" in invalid.stdout


def test_flink_deployment_uses_only_field_names_the_crd_knows():
    """The CRD schema lets unknown fields through (the API server would prune them): check the names."""
    spec = yaml.safe_load((KUBERNETES / "flinkdeployment.yaml").read_text())["spec"]
    known = {
        "spec": {"image", "imagePullPolicy", "flinkVersion", "serviceAccount", "mode", "flinkConfiguration"}
        | {"podTemplate", "jobManager", "taskManager", "job", "logConfiguration", "ingress", "restartNonce"},
        "job": {"jarURI", "entryClass", "args", "parallelism", "upgradeMode", "state", "initialSavepointPath"}
        | {"allowNonRestoredState", "savepointTriggerNonce", "checkpointTriggerNonce", "savepointRedeployNonce"},
        "jobManager": {"replicas", "resource", "podTemplate"},
        "taskManager": {"replicas", "resource", "podTemplate"},
        "resource": {"cpu", "memory", "ephemeralStorage"},
    }
    assert set(spec) <= known["spec"] and set(spec["job"]) <= known["job"]
    for role in ("jobManager", "taskManager"):
        assert set(spec[role]) <= known[role] and set(spec[role]["resource"]) <= known["resource"]
    pod = {"apiVersion": "v1", "kind": "Pod", **{k: v for k, v in spec["podTemplate"].items() if k != "kind"}}
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


def test_compose_file_matches_the_compose_specification():
    validator = jsonschema.Draft201909Validator(json.loads((SCHEMAS / "compose_spec.json").read_text()))
    compose = yaml.safe_load(COMPOSE.read_text())
    validator.validate(compose)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**compose, "services": {"sink": {"image": "x", "restart": ["always"]}}})
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            assert not host.startswith(".") or (COMPOSE.parent / host).exists(), volume
        if "build" in service:
            assert (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).exists()


def test_every_spendstream_command_in_the_manifests_parses():
    commands = [c["command"] for doc in kubernetes_documents() if doc["kind"] == "Deployment"
                for c in doc["spec"]["template"]["spec"]["containers"]]  # fmt: skip
    commands += [s["command"] for s in yaml.safe_load(COMPOSE.read_text())["services"].values() if "command" in s]
    spendstream = [c for c in commands if isinstance(c, list) and c[0] == "spendstream"]
    assert len(spendstream) >= 6
    for command in spendstream:
        if command[1:] != ["--help"]:
            build_parser().parse_args(command[1:])


def test_compose_publishes_only_on_loopback_with_separate_secrets_and_no_web_submission():
    compose = yaml.safe_load(COMPOSE.read_text())
    published = [port for service in compose["services"].values() for port in service.get("ports", [])]
    assert len(published) >= 3 and all(port.startswith("127.0.0.1:") for port in published), published
    grafana = compose["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    influx_secrets = {v for k, v in compose["services"]["influxdb"]["environment"].items() if "PASSWORD" in k}
    assert "GRAFANA_ADMIN_PASSWORD" in grafana and grafana not in influx_secrets
    flink = yaml.safe_load(compose["x-spendstream"]["environment"]["FLINK_PROPERTIES"])
    assert flink["web.submit.enable"] is False


def test_flink_deployment_disables_job_submission_through_the_web():
    flink = next(doc for doc in kubernetes_documents() if doc["kind"] == "FlinkDeployment")
    assert flink["spec"]["flinkConfiguration"]["web.submit.enable"] == "false"


def test_no_manifest_puts_a_secret_on_a_command_line():
    """Command lines are visible to every process on a node: secrets travel in the environment or files."""
    for path in [*KUBERNETES.glob("*.yaml"), COMPOSE]:
        for line in path.read_text().splitlines():
            if "command" in line or "args" in line:
                assert not any(word in line for word in ("--webhook ", "TOKEN", "PASSWORD", "hooks.slack")), line
