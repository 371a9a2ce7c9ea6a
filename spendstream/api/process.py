"""The API server as a child process: what the tests, the benchmark and the embedded stack start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from spendstream.config import Config, to_env
from spendstream.processes import free_port, http_ok


@contextmanager
def api_server(config: Config, secrets: dict[str, str], timeout_s: float = 30) -> Iterator[str]:
    """``spendstream api serve`` on a free loopback port with ``config``; yields its URL, stops it after.

    ``secrets`` (the token key) go to the child's environment only, never its argv.
    """
    config = replace(config, api=replace(config.api, host="127.0.0.1", port=free_port()))
    env = {**os.environ, **to_env(config), **secrets}
    argv = [sys.executable, "-m", "spendstream.cli", "api", "serve"]
    server = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{config.api.port}"
    try:
        deadline = time.monotonic() + timeout_s
        while not http_ok(f"{url}/healthz"):
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"the API did not start: {server.communicate()[0].decode()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(10)
