# Two commands set everything up on a fresh machine:
#   make run   - create .venv, install impsy, start it on the bundled config and model
#   make test  - create .venv, install impsy with its training and test extras, run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= configs/default.toml
# Debian packages the test suite drives for real: a JACK server gives real MIDI ports,
# chromium runs the web UI's browser tests (Playwright drives it; it never downloads one),
# puredata-core runs the Pd example patches headless against a real impsy, systemd's
# systemd-analyze checks the Raspberry Pi units, iproute2's ip brings up the loopback of
# the private network namespace (unshare -rn) the Ableton Link tests play in.
APT_PACKAGES := jackd2 chromium puredata-core systemd iproute2

.PHONY: run test test-pythons lint format bench bench-reference bench-train conformance clean apt-packages docker-test fuzz docs

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

# Two pytest workers (pytest-xdist), whole files each, the long ones first (tests/conftest.py):
# the suite's time on a 2-core machine goes from ~14 to ~9 minutes. TEST_WORKERS=0 runs it in
# one process. Then the tests marked `alone` (timing measured against a goal, which another
# worker's load would decide) run with the machine to themselves.
TEST_WORKERS ?= 2

test: $(VENV)/.test apt-packages
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not alone"
	$(BIN)/python -m pytest -m alone
	$(BIN)/impsy conformance tests/conformance/impsy-1.2.1

# The wheel installed and played on other Pythons (minutes: a fresh venv each).
TEST_PYTHONS ?= 3.12,3.13
test-pythons: $(VENV)/.test
	IMPSY_TEST_PYTHONS=$(TEST_PYTHONS) $(BIN)/python -m pytest tests/system/test_install.py

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Speed is measured here, not in the tests: every benchmark side by side with IMPSY 1.2.1
# (from `make bench-reference`), one table in benchmarks/REPORT.md. BENCH_ARGS=--quick for
# short runs, --only engine,predict for some, --with-train to add training, --update-readme.
bench: $(VENV)/.test apt-packages
	$(BIN)/python benchmarks/report.py $(BENCH_ARGS)

# IMPSY 1.2.1 in its own venv (git-ignored), for the IMPSY column of `make bench`.
bench-reference: .bench-venv/bin/impsy

.bench-venv/bin/impsy:
	$(PYTHON) -m venv .bench-venv
	.bench-venv/bin/python -m pip install --quiet impsy==1.2.1

# Time to quality against IMPSY 1.2.1 (needs it in .bench-venv or /tmp/impsy-ref); minutes.
bench-train: $(VENV)/.test
	$(BIN)/python benchmarks/train.py --quick

# Fuzz every parser (OSC, serial CSV and MIDI, WebSocket, configs, logs, model files) for
# FUZZ_SECONDS each, under libFuzzer via atheris (a mutation fuzzer without it); see fuzz/run.py.
FUZZ_SECONDS ?= 60
fuzz: $(VENV)/.test
	$(BIN)/python -m fuzz.run --all --seconds $(FUZZ_SECONDS)

# The parts of docs/commands.md and impsy/web/API.md made from the command table, then the
# manual (docs/, mkdocs.yml) served at http://127.0.0.1:8000, rebuilt as you edit (Ctrl-C
# stops it). `make test` builds it with --strict (tests/test_docs.py).
docs: $(VENV)/.test
	$(BIN)/python docs/generate.py
	$(BIN)/mkdocs serve

conformance: $(VENV)/.runtime
	$(BIN)/impsy conformance tests/conformance/impsy-1.2.1

# The Docker image for real: build it, start it with docker compose, play an OSC round
# trip against the container (a minute; needs root or a docker group, not part of `test`).
# Without a daemon it starts a private one; without a registry the base image is made
# with debootstrap (BASE_IMAGE=python:3.11-slim-bookworm uses the official one).
# Missing tools are installed from Debian (docker.io, docker-compose, debootstrap).
docker-test: $(VENV)/.runtime
	PY=$(BIN)/python docker/docker-test.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
