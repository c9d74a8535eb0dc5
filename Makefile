# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo
EEGAVI_DATA ?= $(abspath ../shared/data)

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python cli.py synth demo --out $(DEMO)
	$(BIN)/python cli.py manifest check --manifest $(DEMO)/data_manifest.yaml
	$(BIN)/python cli.py extract all --manifest $(DEMO)/data_manifest.yaml --random-init
	$(BIN)/python cli.py cache ls --manifest $(DEMO)/data_manifest.yaml
	$(BIN)/python cli.py train fusion --manifest $(DEMO)/data_manifest.yaml --out runs/demo

test: $(STAMP)
	EEGAVI_DATA=$${EEGAVI_DATA:-$(EEGAVI_DATA)} $(BIN)/pytest -q

bench: $(STAMP)
	EEGAVI_DATA=$${EEGAVI_DATA:-$(EEGAVI_DATA)} $(BIN)/python bench/cache_rerun.py

clean:
	rm -rf $(VENV) data/demo runs *.egg-info
