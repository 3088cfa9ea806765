# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates .venv and installs what it needs, pinned by constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: demo demo-ci test check lock bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.demo: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install --quiet --constraint constraints.txt --editable ".[demo]"
	touch $@

$(VENV)/.dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install --quiet --constraint constraints.txt --editable ".[dev]"
	touch $@ $(VENV)/.demo

# Every demo step (the README lists them), then a summary of what each showed and where
# the plots are. `perron demo --all` exits 1 if any step failed or wrote no plot.
OUT ?= out
demo: $(VENV)/.demo
	$(BIN)/perron demo --all --out $(OUT)

# CI runs the demo as a newcomer does: in a new venv built from the `demo` extra alone
# (not the dev one), so a package the demo needs but only `dev` names fails here.
DEMO_CI_VENV := .venv-demo-ci
demo-ci:
	rm -rf $(DEMO_CI_VENV) out-demo-ci
	$(MAKE) demo VENV=$(DEMO_CI_VENV) OUT=out-demo-ci

# The web pages are tested in a real browser (tests/web): Debian's headless Chromium,
# driven by Playwright; installed here where it is missing (never a downloaded build).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get install -y --no-install-recommends chromium \
	  || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }

# pytest exits 5 when it ran no test; make treats that as a failure like any other.
test: $(VENV)/.dev $(CHROMIUM)
	$(BIN)/python -m pytest -n 2 -q

check: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/glm.py
	$(BIN)/python benchmarks/coxph.py
	$(BIN)/python benchmarks/round_latency.py

# Perron vs Flower's deployment runtime (issue 10). Flower runs as separate processes
# from its own venv: its pins clash with constraints.txt.
FLOWER_VENV := .venv-flower

$(FLOWER_VENV)/.installed: benchmarks/flower-constraints.txt
	$(PYTHON) -m venv $(FLOWER_VENV)
	echo '*' > $(FLOWER_VENV)/.gitignore
	$(FLOWER_VENV)/bin/python -m pip install --quiet --constraint $< flwr numpy
	touch $@

.PHONY: bench-fedavg
bench-fedavg: $(VENV)/.dev $(FLOWER_VENV)/.installed
	$(BIN)/python benchmarks/fedavg.py

# Re-pin every dependency after changing pyproject.toml.
lock: $(VENV)/.dev
	$(PIP) freeze --exclude-editable | grep -v '^perron' > constraints.txt

clean:
	rm -rf $(VENV) $(FLOWER_VENV) $(DEMO_CI_VENV) out out-demo-ci .mypy_cache .ruff_cache .pytest_cache .hypothesis
