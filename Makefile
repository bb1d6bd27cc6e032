# The README's commands. `make demo` and `make test` each set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install demo test test-all lint bench bench-query bench-export bench-limits bench-dedupe bench-checkpoint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: install
	$(BIN)/newsagg demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

test-all: install
	$(BIN)/python -m pytest -m ''

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/crawl.py
	$(BIN)/python bench/feeds.py

bench-query: install
	$(BIN)/python bench/query.py

bench-export: install
	$(BIN)/python bench/export.py

bench-limits: install
	$(BIN)/python bench/limits.py

bench-dedupe: install $(VENV)/.bench-installed
	$(BIN)/python bench/dedupe.py

# the benchmarks' own extra (datasketch, bench/dedupe.py's reference)
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

bench-checkpoint: install
	$(BIN)/python bench/checkpoint.py

clean:
	rm -rf $(VENV) build *.egg-info data/news.db data/news.db-wal data/news.db-shm data/news.db.lock data/feeds
