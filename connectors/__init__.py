"""Sources and sinks: export files in, Kafka topics through, InfluxDB and alert consumers out."""
