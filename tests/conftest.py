"""Tests talk only to what their fixtures start: the caller's settings are scrubbed before any test runs.

A developer's shell may point ``KAFKA_BOOTSTRAP``, ``SPENDSTREAM_*`` or ``AWS_*`` at real servers,
and ``./spendstream.yaml`` or a running ``./.spendstream`` stack may sit in the working folder;
``load_config`` would pick up all of them, in this process and in every CLI the tests start.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

CALLER_SETTINGS = ("SPENDSTREAM_", "KAFKA_", "AWS_", "INFLUX")
STATE_DIR = pytest.StashKey[str]()


def pytest_configure(config) -> None:
    for name in [n for n in os.environ if n.startswith(CALLER_SETTINGS)]:
        del os.environ[name]
    os.environ["SPENDSTREAM_CONFIG"] = os.devnull  # an empty file: ./spendstream.yaml is never read
    config.stash[STATE_DIR] = tempfile.mkdtemp(prefix="spendstream-test-state-")
    os.environ["SPENDSTREAM_STACK_STATE_DIR"] = config.stash[STATE_DIR]


def pytest_unconfigure(config) -> None:
    """The stack state folder made above goes with the run: that folder, whatever a test set the variable to."""
    shutil.rmtree(config.stash.get(STATE_DIR, ""), ignore_errors=True)
