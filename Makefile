# spendstream: the two commands of the README, and a few for developers.
.PHONY: setup demo test test-unit lint bench stop clean

setup:
	@deploy/local/setup.sh

demo: setup
	.venv/bin/spendstream demo

test:
	@deploy/local/setup.sh --test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/pytest -ra --durations=15

test-unit:
	@deploy/local/setup.sh --test
	.venv/bin/pytest -ra tests/unit

# Benchmarks (not in CI): each appends its table, the machine and the command to BENCHMARKS.md.
# SOAK_RATE: 70% of the full job's events/s that bench.flink_throughput measured here (5,032, 2026-12-06).
SOAK_RATE ?= 3522
bench: setup
	.venv/bin/python -m bench.replay_parse
	.venv/bin/python -m bench.produce
	.venv/bin/python -m bench.flink_throughput
	.venv/bin/python -m bench.job_profile
	.venv/bin/python -m bench.latency
	.venv/bin/python -m bench.kafka_hop
	.venv/bin/python -m bench.state_memory
	.venv/bin/python -m bench.soak --rate $(SOAK_RATE)
	.venv/bin/python -m bench.detection_quality
	.venv/bin/python -m bench.backtest_scale
	.venv/bin/python -m bench.nab_score

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

stop:
	@if [ -x .venv/bin/spendstream ]; then .venv/bin/spendstream stack down; fi

clean: stop
	rm -rf .spendstream
