# EUDI-Connect developer commands. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTOS := $(shell find protos -name '*.proto')
HOST ?= 127.0.0.1
PORT ?= 50051
DB ?= sqlite:///./eudi-connect.db

.PHONY: help venv proto proto-check run test test-fast test-sqlite lint fmt bench bench-throughput bench-scaling bench-wallet bench-verifier loadtest-ghz clean

help:
	@echo "make run      start the service on the embedded SQLite store ($(HOST):$(PORT))"
	@echo "make test     lint, then the whole test suite"
	@echo "make test-fast  core unit tests only (the quick loop)"
	@echo "make test-sqlite  the whole suite on SQLite only (no PostgreSQL needed)"
	@echo "make proto    regenerate generated/ from protos/"
	@echo "make bench    credential exchange benchmark on the embedded store"
	@echo "make bench-throughput  batch, stream and unary issuance beside echo, CPU per thread"
	@echo "make bench-scaling  issuance with 1 vs 2 server processes, SQLite and PostgreSQL"
	@echo "make bench-wallet   whole OpenID4VCI wallet flows, step by step, with the HTTP echo ceiling"
	@echo "make bench-verifier whole OpenID4VP exchanges (SD-JWT VC + mdoc), step by step, with the echo ceiling"
	@echo "make loadtest-ghz  the ghz configs in loadtest/ghz (needs ghz on PATH)"
	@echo "make fmt      format the code"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,hsm]'
	touch $(STAMP)

venv: $(STAMP)

generated/.stamp: $(STAMP) $(PROTOS)
	$(BIN)/python -m eudi_connect.devtools.protogen generated
	touch generated/.stamp

proto: $(STAMP)
	$(BIN)/python -m eudi_connect.devtools.protogen generated
	touch generated/.stamp

run: $(STAMP) generated/.stamp
	$(BIN)/eudi-connect serve --host $(HOST) --port $(PORT) --db $(DB)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy eudi_connect tests loadtest
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(STAMP) generated/.stamp lint
	$(BIN)/python -m pytest

# The tests marked `postgres` start a throwaway PostgreSQL themselves (tests/postgres_fixture.py).
test-sqlite: $(STAMP) generated/.stamp
	$(BIN)/python -m pytest -m "not postgres"

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

bench: $(STAMP) generated/.stamp
	$(BIN)/python -m loadtest.benchmark_credential_exchange --num-credentials 2000

# Best of 3 of each: batches of 1,000 and 10,000, a 10,000-item stream (each from a client
# process of its own), unary at 32 in flight, the echo ceiling; CPU per credential by thread.
bench-throughput: $(STAMP) generated/.stamp
	$(BIN)/python -m loadtest.benchmark_throughput --repeat 3 $(BENCH_ARGS)

bench-scaling: $(STAMP) generated/.stamp
	$(BIN)/python -m loadtest.scaling_workers

bench-wallet: $(STAMP) generated/.stamp
	$(BIN)/python -m loadtest.benchmark_wallet_flows --flows 200

bench-verifier: $(STAMP) generated/.stamp
	$(BIN)/python -m loadtest.benchmark_presentations --exchanges 200

# Starts its own server on a temporary database unless GHZ_ARGS names one
# (GHZ_ARGS="--endpoint 127.0.0.1:50051 --api-key ek_..."); prints how to get ghz if it is missing.
loadtest-ghz: $(STAMP) generated/.stamp
	$(BIN)/python -m loadtest.ghz_run $(GHZ_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
