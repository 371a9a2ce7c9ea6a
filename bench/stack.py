"""The embedded stack for the benchmarks that need servers: started on 127.0.0.1, always stopped."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from bench.report import ROOT
from spendstream.config import Config, load_config
from spendstream.stack import LocalStack


@contextmanager
def embedded_stack() -> Iterator[Config]:
    """A fresh stack with its own state folder, removed afterwards."""
    state = Path(tempfile.mkdtemp(prefix="spendstream-bench-"))
    env = {
        **os.environ,
        "SPENDSTREAM_STACK_STATE_DIR": str(state),
        "SPENDSTREAM_ACCOUNTS_FILE": str(ROOT / "accounts.yaml"),
        "SPENDSTREAM_STACK_PIPELINE": "false",  # each benchmark runs the jobs it measures, alone
    }
    local = LocalStack(load_config(None, env=env))
    try:
        with Console().status("starting the embedded stack (Tansu, SeaweedFS, InfluxDB, Flink) ..."):
            local.up()
        yield load_config(None, env=env)
    finally:
        local.down()
        shutil.rmtree(state, ignore_errors=True)
