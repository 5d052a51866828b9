# reportgen: every target installs what it needs first (a .venv built from pyproject.toml).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOGDIR ?=
NAME ?=
SITE ?= site
SAMPLE ?= ../shared/data/sotm34
BENCH_SCALES ?= 1,10,100

.PHONY: report test lint bench clean golden help

help:
	@echo "make report [LOGDIR=path NAME=name]  build a report (default: the built-in demo incident)"
	@echo "make test                            install, then run the test suite"
	@echo "make lint                            ruff check, ruff format --check, mypy"
	@echo "make bench                           benchmarks (numbers go in README)"
	@echo "make golden                          rewrite tests/fixtures/expected/ (review the diff)"
	@echo "make clean                           remove site/, caches and the virtual environment"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

report: $(STAMP)
	@# exit 1 means "written, but some input needs attention": still a report
	$(BIN)/reportgen report $(if $(LOGDIR),$(LOGDIR),--demo) --out $(SITE) $(if $(NAME),--name $(NAME),) || test $$? -eq 1

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check reportgen tests
	$(BIN)/ruff format --check reportgen tests
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m reportgen.bench --sample $(SAMPLE) --scales $(BENCH_SCALES)

golden: $(STAMP)
	$(BIN)/python -m tests.golden

clean:
	rm -rf $(SITE) $(VENV) .pytest_cache .mypy_cache .ruff_cache .cache build *.egg-info
