"""spendstream: real-time cloud cost pipeline (CLI, configuration and the embedded local stack)."""

__version__ = "0.1.0"

from pathlib import Path

# The importable packages a Flink cluster needs (shipped with every job as Python files).
PACKAGES = ("connectors", "jobs", "pipelines", "schemas", "spendstream")
SOURCE_ROOT = Path(__file__).resolve().parent.parent
