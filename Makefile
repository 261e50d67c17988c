# Everything a fresh machine needs comes from here: `make demo` and `make test` create the
# virtualenv, install the package with its test extras, and run.
.PHONY: demo test lint typecheck unit ui chromium labextension labextension-check notebooks \
	screenshots bench clean jstest

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

## Lint, type check, the committed side panel build, the whole test suite and the notebooks.
test: lint typecheck labextension-check jstest unit ui notebooks

lint: $(STAMP)
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests --ignore=tests/ui

## The side panel in a real JupyterLab, driven in Debian's chromium (tests/ui).
ui: $(STAMP) chromium
	$(BIN)/pytest tests/ui

## Debian's chromium for the UI tests (Playwright drives it; never `playwright install`).
chromium:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium

## Rebuild the side panel (labextension/ -> sm_magics/labextension) with the venv's jlpm,
## then reinstall so the venv's share/jupyter/labextensions holds the new build (a copy).
labextension: $(STAMP)
	cd labextension && PATH="$(abspath $(BIN)):$$PATH" jlpm install && \
		PATH="$(abspath $(BIN)):$$PATH" jlpm build:prod
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .

## Fail when the committed build differs from what the sources build (skipped without node).
labextension-check: $(STAMP)
	@if ! command -v node >/dev/null 2>&1; then \
		echo "labextension-check: node not found, not rebuilding the side panel"; exit 0; fi; \
	$(MAKE) --no-print-directory labextension || exit 1; \
	changes="$$(git status --porcelain sm_magics/labextension)"; \
	if [ -n "$$changes" ]; then \
		echo "sm_magics/labextension differs from a build of labextension/:"; \
		echo "$$changes"; echo "Run 'make labextension' and commit the result."; exit 1; fi

## The side panel's jest tests (model, log reader, formatting; requestAPI mocked).
jstest: $(STAMP)
	@if ! command -v node >/dev/null 2>&1; then \
		echo "jstest: node not found, not running the side panel's unit tests"; exit 0; fi; \
	cd labextension && PATH="$(abspath $(BIN)):$$PATH" jlpm install && \
		PATH="$(abspath $(BIN)):$$PATH" jlpm test

## docs/images/panel-*.png, notebook-widget.png, job-widget.png, endpoint-widget.png,
## tuning-widget.png and the cells cost-*, endpoints-*, jobs-*, compare-*.png (the notebook
## test: quickstart, serving, registry) from a real JupyterLab.
screenshots: $(STAMP) chromium
	SM_MAGICS_SCREENSHOTS=1 $(BIN)/pytest tests/ui/test_screenshots.py tests/ui/test_widget_screenshots.py \
		tests/ui/test_notebooks.py -k "not test_notebook_outputs or quickstart or serving or registry"

## Each notebook with a home of its own, as a user's first run of it would be (a shared
## home would list one notebook's jobs in the next one's %sm_jobs).
notebooks: $(STAMP)
	@set -e; for notebook in notebooks/*.ipynb; do \
		SM_MAGICS_HOME=$$(mktemp -d) $(BIN)/pytest -p no:cacheprovider --nbval $$notebook \
			--nbval-sanitize-with notebooks/sanitize.cfg; \
	done

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_spine.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache labextension/node_modules \
		labextension/lib labextension/tsconfig.tsbuildinfo
