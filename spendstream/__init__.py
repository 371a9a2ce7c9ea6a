"""spendstream: real-time cloud cost pipeline (CLI, configuration and the embedded local stack)."""

__version__ = "0.1.0"
