# ddclab: every set-up step lives here, so a fresh machine needs only
# `make demo` or `make test`.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: all venv build demo test test-rust test-python bench fmt lint clean setup-apps

all: build

# The virtualenv is (re)made when the dependency list changes.
$(VENV)/.deps: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "maturin>=1.5,<2"
	$(PY) -m pip install -q $$($(PY) -c "import tomllib;d=tomllib.load(open('pyproject.toml','rb'))['project'];print(' '.join(repr(x) for x in d['dependencies']+d['optional-dependencies']['test']))" | tr -d "'")
	touch $@

venv: $(VENV)/.deps

build: venv
	maturin develop --release -q
	cargo build --release -q -p ddclab-memu

demo: build
	ddclab sim run examples/default.toml --out out/demo

test: build test-rust test-python

test-rust:
	cargo test --profile fasttest -q --workspace --exclude ddclab-py

test-python: build
	$(PY) -m pytest -q tests

bench: build
	cargo bench -q -p ddclab-sim --bench reference
	$(PY) benches/emu_bench.py

# The real applications of `ddclab reproduce ddc-requirements`: memcached and
# Redis (apt), Spark (Java from apt, pyspark from PyPI into $(VENV)), Timely
# PageRank (cargo). Not needed by `make test`.
setup-apps: build
	scripts/setup-apps.sh

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf target $(VENV) out
