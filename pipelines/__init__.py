"""Processing logic as plain Python, independent of the engine that runs it."""
