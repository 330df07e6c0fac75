# The two commands that matter: `make demo` (the whole pipeline locally) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements/*.txt | sha256sum | cut -c1-12)
# Tools whose dependency pins clash with ours get a virtualenv each, cached outside the clone and
# keyed by their pin file (tests/infra/tools.py finds them the same way).
TOOLS_CACHE ?= $(HOME)/.cache/imagebot
export IMAGEBOT_TOOLS := $(TOOLS_CACHE)
tool_venv = $(TOOLS_CACHE)/$(1)-$(shell sha256sum requirements/tools/$(1).txt | cut -c1-12)
TOOL_STAMPS := $(call tool_venv,checkov)/.installed $(call tool_venv,workflows-emulator)/.installed
# Bench-only packages (SimPy, matplotlib, the aiogram peer) in a virtualenv of their own, built the
# same way, so that the test install stays small.
BENCH_VENV := $(call tool_venv,bench)

.PHONY: install tools lint sync format test test-unit up demo models screenshot bench bench-webhook bench-pipeline bench-capacity clean
# Where `make models` puts the real models, and what `make demo MODEL_DIR=...` draws with.
MODELS_DIR ?= models
MODEL_DIR ?=

install: $(STAMP)

$(STAMP): requirements/*.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	rm -f $(VENV)/.installed-* && touch $@

tools: $(TOOL_STAMPS)  ## checkov and workflows-emulator, each in its own venv (for tests/infra)

$(TOOLS_CACHE)/%/.installed:
	$(PYTHON) -m venv $(TOOLS_CACHE)/$*
	$(TOOLS_CACHE)/$*/bin/pip install --quiet --disable-pip-version-check -r requirements/tools/$(shell echo $* | sed 's/-[0-9a-f]*$$//').txt
	touch $@

lint: install  ## ruff (lint and format check), mypy, dead code, generated copies; CI runs it before the tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m tools.deadcode
	$(PY) -m tools.sync --check

sync: install  ## write the files generated from one source (common/ into both deployables; see tools/sync.py)
	$(PY) -m tools.sync

format: install  ## rewrite the code in ruff's format and apply ruff's safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install tools  ## every test: unit, integration (emulators), contract, end-to-end (whole stack)
	$(PY) -m pytest

test-unit: install  ## the pure core only: seconds, no emulators
	$(PY) -m pytest tests/unit tests/contract

up: install  ## the whole pipeline in the foreground; prints `webhook: <url>` and `playground: <url>` when ready
	$(PY) -m local.stack

demo: install  ## bring the stack up, chat in each style, save photos under out/, shut down (MODEL_DIR=models: real pictures)
	$(if $(MODEL_DIR),MODEL_DIR=$(abspath $(MODEL_DIR)) STEP_PROGRESS=true WARM_UP=false) $(PY) -m local.demo

models: install  ## the styles' real models from the Hugging Face Hub into $(MODELS_DIR)/ (about 16 GB; needs internet)
	HF_HUB_OFFLINE=0 $(PY) -m gpu_service.prepare_models --dest $(MODELS_DIR) --work-dir $(MODELS_DIR).work

screenshot: install  ## docs/playground.png: a chat in the playground, in headless Chromium
	$(PY) -m local.screenshot

bench: install bench-webhook bench-pipeline bench-capacity  ## every benchmark: each prints figures and saves them under bench/results/
	$(PY) bench/gpu_throughput.py

bench-webhook: install $(BENCH_VENV)/.installed  ## the webhook and an aiogram peer, in turn, at 100 and 1,000 connections: req/s, latency, nothing lost
	$(PY) bench/webhook_load.py --peer-python $(BENCH_VENV)/bin/python

bench-capacity: $(BENCH_VENV)/.installed  ## the capacity model (SimPy) for 1,000 users: latency, queues, GPUs, cost; plots in docs/
	$(BENCH_VENV)/bin/python bench/capacity.py

bench-pipeline: install  ## 200 prompts through the whole local stack: the pipeline's own overhead, webhook to sendPhoto
	$(PY) bench/pipeline_overhead.py

clean:
	rm -rf out .pytest_cache
