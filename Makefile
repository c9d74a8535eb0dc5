# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo
EEGAVI_DATA ?= $(abspath ../shared/data)

.PHONY: demo demo-vate test install bench clean gpu-kit bench-peers

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
	rm -rf runs/demo-eeg-only runs/demo-classic runs/demo-fusion
	$(BIN)/python cli.py train fusion --manifest $(DEMO)/data_manifest.yaml --fusion eeg-only --modalities eeg \
		--split subject-kfold --folds 3 --out runs/demo-eeg-only
	$(BIN)/python cli.py train fusion --manifest $(DEMO)/data_manifest.yaml --fusion classic --modalities eeg \
		--split subject-kfold --folds 3 --out runs/demo-classic
	$(BIN)/python cli.py train fusion --manifest $(DEMO)/data_manifest.yaml --fusion gated-xattn \
		--modalities eeg,video,audio,ecg --split subject-kfold --folds 3 --out runs/demo-fusion
	$(BIN)/python cli.py report runs/demo-eeg-only runs/demo-classic runs/demo-fusion -o runs/demo-report.html
	@echo "Demo done: cache in $(DEMO)/cache.zarr; runs in runs/demo-eeg-only, runs/demo-classic and runs/demo-fusion"
	@echo "(predictions.csv, metrics.jsonl, PNG plots); the report comparing them: runs/demo-report.html."

# The demo with the VATE teacher (issue 16): random-init upstream encoders, the real VATE heads from
# $(EEGAVI_DATA)/vate (not part of `make demo`, which needs no shared data). VATE reads the
# ViViT Kinetics logits group; the fusion input stays the ViViT token group (--extractors video:vivit).
VATE_CKPT ?= $${EEGAVI_DATA:-$(EEGAVI_DATA)}/vate/best_model_contrastive.pt

demo-vate: $(STAMP)
	$(BIN)/python cli.py synth demo --out $(DEMO)
	$(BIN)/python cli.py extract all --manifest $(DEMO)/data_manifest.yaml --random-init
	$(BIN)/python cli.py extract video --head logits --random-init --manifest $(DEMO)/data_manifest.yaml
	$(BIN)/python cli.py extract teacher --teacher vate --checkpoint "$(VATE_CKPT)" --manifest $(DEMO)/data_manifest.yaml
	$(BIN)/python cli.py cache ls --manifest $(DEMO)/data_manifest.yaml
	rm -rf runs/demo-vate
	$(BIN)/python cli.py train fusion --manifest $(DEMO)/data_manifest.yaml --fusion gated-xattn \
		--modalities eeg,video,audio,ecg --extractors video:vivit --teacher vate:video \
		--split subject-kfold --folds 3 --out runs/demo-vate
	@echo "VATE demo done: runs/demo-vate (metrics.jsonl has the 'distill' loss per step)."

test: $(STAMP)
	$(BIN)/lint-imports
	EEGAVI_DATA=$${EEGAVI_DATA:-$(EEGAVI_DATA)} $(BIN)/pytest -q

bench: $(STAMP)
	EEGAVI_DATA=$${EEGAVI_DATA:-$(EEGAVI_DATA)} $(BIN)/python -m bench.cache_rerun

# TorchEEG 1.1.3 in its own venv (it pins scipy<=1.10.1 and brings Lightning; not an eegavi
# dependency). torch first, pinned, so the resolver never fetches a CUDA build. eegavi goes in
# without its dependencies (they would clash with TorchEEG's scipy pin); the cache reader needs
# only zarr, pyyaml and pydantic on top. Used by `python -m bench.peer_torcheeg` (see BENCHMARKS.md).
PEERS := .venv-peers
PEERS_STAMP := $(PEERS)/.installed

$(PEERS_STAMP): bench/peers-constraints.txt
	$(PY) -m venv $(PEERS)
	$(PEERS)/bin/pip install --quiet torch==2.13.0
	$(PEERS)/bin/pip install --quiet --prefer-binary -c bench/peers-constraints.txt torcheeg==1.1.3 "zarr>=3.0,<4" pyyaml psutil "pydantic>=2.7"
	$(PEERS)/bin/pip install --quiet --no-deps -e .
	touch $(PEERS_STAMP)

bench-peers: $(PEERS_STAMP)

# Wheels the GPU machine's image lacks (its python3 is 3.12 and has torch and transformers), and
# the benchmark video, for `bash bench/gpu_checks.sh` there (see that script).
GPU_WHEELS := av==18.1.0 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 \
	typing-inspection==0.4.5 zarr==3.1.6 numcodecs==0.16.6 donfig==0.8.1.post1 google-crc32c==1.9.0 \
	praat-parselmouth==0.4.7 typing-extensions==4.16.0
GPU_PLATFORMS := manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64

gpu-kit:
	rm -rf .gpu && mkdir -p .gpu/data/video
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		$(foreach p,$(GPU_PLATFORMS),--platform $(p)) -d .gpu/whl $(GPU_WHEELS)
	cp "$${EEGAVI_DATA:-$(EEGAVI_DATA)}/video/face_1080p.mp4" .gpu/data/video/
	@du -sh .gpu

clean:
	rm -rf $(VENV) $(PEERS) data/demo runs *.egg-info
