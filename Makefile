# Two commands set everything up on a fresh machine:
#   make run   - create .venv, install impsy, start it on the bundled config and model
#   make test  - create .venv, install impsy with its training and test extras, run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= configs/default.toml
# Debian packages the test suite drives for real: a JACK server gives real MIDI ports.
APT_PACKAGES := jackd2

.PHONY: run test lint format bench bench-train conformance clean apt-packages

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "impsy needs Python >= 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files record what was installed, so repeat runs skip pip.
$(VENV)/.runtime: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[train,test]'
	@touch $@ $(VENV)/.runtime

apt-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

run: $(VENV)/.runtime
	$(BIN)/impsy run --config $(CONFIG)

test: $(VENV)/.test apt-packages
	$(BIN)/ruff check .
	IMPSY_REQUIRE_TRAIN=1 $(BIN)/python -m pytest
	$(BIN)/impsy conformance tests/conformance/impsy-1.2.1

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Speed is measured here, not in the tests. BENCH_ARGS=--quick shortens the engine run.
bench: $(VENV)/.test
	$(BIN)/python benchmarks/cli_help.py
	$(BIN)/python benchmarks/eventlog.py
	$(BIN)/python benchmarks/predict.py
	$(BIN)/python benchmarks/engine.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/serial_websocket.py
	$(BIN)/python benchmarks/midi.py

# Time to quality against IMPSY 1.2.1 (needs it in .bench-venv or /tmp/impsy-ref); minutes.
bench-train: $(VENV)/.test
	$(BIN)/python benchmarks/train.py --quick

conformance: $(VENV)/.runtime
	$(BIN)/impsy conformance tests/conformance/impsy-1.2.1

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
