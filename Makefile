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
TOOLS := .tools
CARGO_FUZZ := $(TOOLS)/bin/cargo-fuzz
# Seconds `make fuzz` (and so `make test`) runs the fuzz target for.
FUZZ_SECONDS ?= 60
RUST_SOURCES := Cargo.toml Cargo.lock pyproject.toml $(shell find crates -name '*.rs' -o -name Cargo.toml)
PY_SOURCES := $(shell find python -type f -not -path '*/__pycache__/*')

.PHONY: demo test bench lint build cli rust-test py-test fuzz clean

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

# The readers under libFuzzer for FUZZ_SECONDS, from the committed corpus and every past
# crash (fuzz/regressions, which `cargo test` also reads). New inputs go to a scratch folder;
# a crash fails the run and leaves its input in fuzz/artifacts/read.
$(CARGO_FUZZ):
	cargo install cargo-fuzz --version 0.13.2 --locked --quiet --root $(TOOLS)

fuzz: $(CARGO_FUZZ)
	rm -rf $(TOOLS)/fuzz-corpus && mkdir -p $(TOOLS)/fuzz-corpus
	cd fuzz && ../$(CARGO_FUZZ) run --sanitizer none --release read \
		../$(TOOLS)/fuzz-corpus corpus/read regressions/read -- \
		-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		2>&1 | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY|Test unit written)' \
		|| test $${PIPESTATUS[0]} -eq 0

test: rust-test py-test fuzz

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
	rm -rf $(VENV) dist target fuzz/target $(TOOLS)
