# Foreshock: the two commands a newcomer needs are `make demo` and `make test`.
# Both set up what they need: a virtual environment in .venv with the pip packages; `make test`
# also installs Debian's mosquitto, influxdb, victoria-metrics and chromium when run as root.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
DURATION ?= 180
# the suite runs in TEST_JOBS processes (pytest-xdist; every test starts its own servers on free ports and
# makes its own databases): 2 on 2 cores took 8-12 min against 18 min 29 s in one (another job busy beside
# that one run; 17-18 min in CI before). TEST_JOBS=1: one process.
TEST_JOBS ?= 2
PYTEST_ARGS ?=

SYSTEM_PACKAGES := mosquitto mosquitto-clients influxdb victoria-metrics chromium

.PHONY: demo test test-quick venv venv-test system-deps bench evaluate lint clean help

help:
	@echo "make demo        run the demo: broker, service and a simulated fleet that fails (DURATION=$(DURATION) s)"
	@echo "make test        install what the tests need, then run the whole suite"
	@echo "make test-quick  unit tests only (no servers, no browser)"
	@echo "make bench       run the benchmarks, results in bench/RESULTS.md"
	@echo "make evaluate    score the detectors on ../shared/datasets (docs/detector-performance.md)"

$(VENV)/.created:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Foreshock needs Python >= 3.11; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(PIP) install --quiet -e '.[postgres,embedded-broker]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install --quiet -e '.[test,postgres,embedded-broker]'
	touch $@

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

system-deps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto mosquitto-clients"; \
	command -v influxd >/dev/null 2>&1 || missing="$$missing influxdb"; \
	command -v victoria-metrics >/dev/null 2>&1 || missing="$$missing victoria-metrics"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
			|| { echo "apt-get install$$missing failed" >&2; exit 1; }; \
		for svc in mosquitto influxdb victoria-metrics; do \
			(command -v systemctl >/dev/null && systemctl disable --now $$svc >/dev/null 2>&1) || true; done; \
	else \
		echo "The tests need these Debian packages:$$missing" >&2; \
		echo "Install them with: sudo apt-get install$$missing   (or run make test as root)" >&2; \
		exit 1; \
	fi

demo: venv
	$(VENV)/bin/foreshock demo --duration $(DURATION)

test: venv-test system-deps
	$(PY) -m pytest $(if $(filter-out 1,$(TEST_JOBS)),-n $(TEST_JOBS) --dist worksteal) $(PYTEST_ARGS)

test-quick: venv-test
	$(PY) -m pytest -m "not integration and not browser and not slow" $(PYTEST_ARGS)

bench: venv-test system-deps
	$(PY) bench/run_all.py

evaluate: venv
	$(VENV)/bin/foreshock evaluate ../shared/datasets --json bench/results/evaluate.json

lint: venv-test
	$(VENV)/bin/ruff check . || true

clean:
	rm -rf $(VENV) foreshock-data .pytest_cache
