# The two commands that matter: `make demo` (the whole pipeline locally) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements/*.txt | sha256sum | cut -c1-12)

.PHONY: install test test-unit up demo bench fmt clean

install: $(STAMP)

$(STAMP): requirements/*.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	rm -f $(VENV)/.installed-* && touch $@

test: install  ## every test: unit, integration (emulators), contract, end-to-end (whole stack)
	$(PY) -m pytest

test-unit: install  ## the pure core only: seconds, no emulators
	$(PY) -m pytest tests/unit tests/contract

up: install  ## the whole pipeline in the foreground; prints `webhook: <url>` when ready
	$(PY) -m local.stack

demo: install  ## bring the stack up, chat in each style, save photos under out/, shut down
	$(PY) -m local.demo

bench: install  ## benchmarks print figures and save them under bench/results/
	$(PY) bench/gpu_throughput.py

clean:
	rm -rf out .pytest_cache
