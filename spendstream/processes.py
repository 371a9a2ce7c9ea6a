"""Start, find and stop the background server processes of the embedded stack.

Each process runs in its own session with its output in ``<state>/logs/<name>.log`` and its pid in
``<state>/pids/<name>.pid``, so ``stack down`` finds it again from another shell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(name: str, argv: list[str], state_dir: Path, env: dict[str, str] | None = None) -> int:
    """Run ``argv`` detached; its pid goes to the pid file."""
    logs, pids = state_dir / "logs", state_dir / "pids"
    logs.mkdir(parents=True, exist_ok=True)
    pids.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            cwd=state_dir,
        )
    (pids / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def running_pid(name: str, state_dir: Path) -> int | None:
    """The pid of a started process that is still alive."""
    path = state_dir / "pids" / f"{name}.pid"
    try:
        pid = int(path.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def stop(name: str, state_dir: Path, timeout_s: float = 10.0) -> bool:
    """SIGTERM the process group, SIGKILL it after ``timeout_s``; True if something was stopped."""
    pid = running_pid(name, state_dir)
    (state_dir / "pids" / f"{name}.pid").unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        _signal_group(pid, signal.SIGKILL)
    return True


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def wait_until(check: Callable[[], bool], what: str, timeout_s: float, log: Path | None = None) -> None:
    """Poll ``check`` until it holds; the error names the component and its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    hint = f"; see {log}" if log else ""
    raise RuntimeError(f"{what} did not become ready within {timeout_s:.0f}s{hint}")
