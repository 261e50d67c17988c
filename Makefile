# Everything a fresh machine needs comes from here: `make demo` and `make test` create the
# virtualenv, install the package with its test extras, and run.
.PHONY: demo test lint typecheck unit notebooks bench clean

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sm-magics-installed
CHECKED := sm_magics tests benchmarks

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

## Run the quickstart notebook on the local backend; the executed copy goes to build/.
demo: $(STAMP)
	mkdir -p build
	$(BIN)/jupyter nbconvert --to notebook --execute notebooks/quickstart.ipynb \
		--output-dir build --output quickstart.ipynb
	@echo "Executed notebook: $(CURDIR)/build/quickstart.ipynb"

## Lint, type check, the whole test suite and the notebooks.
test: lint typecheck unit notebooks

lint: $(STAMP)
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests

notebooks: $(STAMP)
	SM_MAGICS_HOME=$$(mktemp -d) $(BIN)/pytest -p no:cacheprovider --nbval notebooks/ \
		--nbval-sanitize-with notebooks/sanitize.cfg

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_spine.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
