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
	rm -rf runs/demo-eeg-only runs/demo-fusion
	$(BIN)/python cli.py train fusion --manifest $(DEMO)/data_manifest.yaml --fusion eeg-only --modalities eeg \
		--split subject-kfold --folds 3 --out runs/demo-eeg-only
	$(BIN)/python cli.py train fusion --manifest $(DEMO)/data_manifest.yaml --fusion gated-xattn \
		--modalities eeg,video,audio,ecg --split subject-kfold --folds 3 --out runs/demo-fusion
	@echo "Demo done: cache in $(DEMO)/cache.zarr, runs in runs/demo-eeg-only and runs/demo-fusion (metrics.jsonl, PNG plots)."

test: $(STAMP)
	EEGAVI_DATA=$${EEGAVI_DATA:-$(EEGAVI_DATA)} $(BIN)/pytest -q

bench: $(STAMP)
	EEGAVI_DATA=$${EEGAVI_DATA:-$(EEGAVI_DATA)} $(BIN)/python bench/cache_rerun.py

clean:
	rm -rf $(VENV) data/demo runs *.egg-info
