# The project's commands: `make demo`, `make test`, `make bench`, `make lint`.
# Each sets up what it needs (a .venv with pinned tools, the release-built extension) and is safe
# to run twice; CI runs `make test` through .ci/run.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.requirements
WHEEL_STAMP := $(VENV)/.nocopy-installed
BENCH_STAMP := $(VENV)/.bench-requirements
CLI := target/release/nocopy
RUST_SOURCES := Cargo.toml Cargo.lock pyproject.toml $(shell find crates -name '*.rs' -o -name Cargo.toml)
PY_SOURCES := $(shell find python -type f -not -path '*/__pycache__/*')

.PHONY: demo test bench lint build cli rust-test py-test clean

$(VENV_STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The extension, built once in release mode and installed as a wheel: tests import it from
# site-packages, never from the source folder.
$(WHEEL_STAMP): $(VENV_STAMP) $(RUST_SOURCES) $(PY_SOURCES) README.md
	rm -rf dist
	$(VENV)/bin/maturin build --release --quiet -o dist -i $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps dist/nocopy-*.whl
	touch $@

build: $(WHEEL_STAMP)

# Peers only the benchmarks compare against (faiss).
$(BENCH_STAMP): $(VENV_STAMP) requirements-bench.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

cli: $(RUST_SOURCES)
	cargo build --release --quiet -p nocopy-cli

demo: build
	$(PY) examples/demo.py

rust-test:
	cargo test --workspace --exclude nocopy-py --quiet

py-test: build cli
	NOCOPY_CLI=$(abspath $(CLI)) $(PY) -m pytest -q

test: rust-test py-test

bench: build $(BENCH_STAMP)
	cargo bench -p nocopy-bench --bench paths
	$(PY) -m nocopy.bench

lint: $(VENV_STAMP) build
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	$(VENV)/bin/ruff check python tests examples
	$(VENV)/bin/ruff format --check python tests examples
	$(PY) -m mypy.stubtest nocopy._native

clean:
	rm -rf $(VENV) dist target
