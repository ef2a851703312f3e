# The two commands: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/unioncard dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# The registration year test reads every programme year's window (card validity): it runs on a
# database of its own, apart from the years other tests configure with today's dates.
ISOLATED := tests/workflows/test_registration_timers.py

# Browser tests drive Debian's Chromium: installed here when the machine lacks it.
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test: lint chromium
	$(BIN)/pytest $(ISOLATED)
	$(BIN)/pytest --ignore=$(ISOLATED)

bench: $(STAMP)
	$(BIN)/python benchmarks/import_members.py
	$(BIN)/python benchmarks/card_batch.py
	$(BIN)/python benchmarks/enrollment_district.py
	$(BIN)/python benchmarks/claims.py
	$(BIN)/python benchmarks/workbench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
