"""Apache Flink jobs operators submit (``flink run -py jobs/<name>.py``)."""
