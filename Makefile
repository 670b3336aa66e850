# geo311 — two commands: `make demo` (main job on the embedded Boston data) and `make test`.
# Each creates or reuses the virtualenv in .venv and installs the project into it.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo serve test lint typecheck contracts unit bench venv clean messages

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -c 'from routing.engine.matrix import warm_up; warm_up()'  # numba compile, cached on disk
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/geo311 demo --out out

# The staff pages and the API on http://127.0.0.1:8000/ over the demo's database (run
# `make demo` first), or over GEO311_DATABASE_URL when it is set.
serve: $(STAMP)
	@test -n "$$GEO311_DATABASE_URL" || test -f out/demo.db || { echo "no out/demo.db: run 'make demo' first, or set GEO311_DATABASE_URL"; exit 2; }
	GEO311_DATABASE_URL="$${GEO311_DATABASE_URL:-sqlite:///$(CURDIR)/out/demo.db}" $(BIN)/geo311 serve

lint: $(STAMP)
	$(BIN)/ruff check geo311 routing maps api tests bench
	$(BIN)/ruff format --check geo311 routing maps api tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck contracts unit

bench: $(STAMP)
	$(BIN)/python bench/import_bench.py

# The interface's messages: extract the template (.pot) from the templates and the code, then
# merge it into every language's .po (translate the new entries, see the README's "Languages").
LOCALES := geo311/i18n/locales
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location \
		--sort-output --project geo311 -o $(LOCALES)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-fuzzy-matching

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
