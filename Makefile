# spendstream: the two commands of the README, and a few for developers.
.PHONY: setup demo test test-unit lint stop clean

setup:
	@deploy/local/setup.sh

demo: setup
	.venv/bin/spendstream demo

test:
	@deploy/local/setup.sh --test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/pytest -ra

test-unit: setup
	.venv/bin/pytest -ra tests/unit

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

stop:
	@if [ -x .venv/bin/spendstream ]; then .venv/bin/spendstream stack down; fi

clean: stop
	rm -rf .spendstream
