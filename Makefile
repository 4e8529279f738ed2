.DEFAULT_GOAL := help
PY ?= .venv/bin/python

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install:  ## create .venv and install the package with its dev tools
	python3.11 -m venv .venv && $(PY) -m pip install -q -e '.[dev]'

demo:  ## embedded broker + worker + generated traffic
	.venv/bin/pulse demo

test:  ## unit and integration tests (starts the embedded broker itself)
	$(PY) -m pytest

unit:  ## unit tests only (no broker)
	$(PY) -m pytest -m "not integration"

lint:  ## ruff
	$(PY) -m ruff check models stream tests bench

format:  ## ruff format + import order
	$(PY) -m ruff format models stream tests bench && $(PY) -m ruff check --fix models stream tests bench

typecheck:  ## mypy
	$(PY) -m mypy

bench:  ## every benchmark under bench/, figures printed
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

throughput:  ## worker against raw consume, plain Faust, Quix Streams (needs .[bench])
	$(PY) bench/throughput.py

latency:  ## one worker at 1,000 / 2,000 / 5,000 events/s: latency, bounded lag
	$(PY) bench/latency.py

.PHONY: help install demo test unit lint format typecheck bench throughput latency
