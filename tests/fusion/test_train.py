"""train(cfg) end to end on a tiny synthetic cache: smoke, exact resume, NaN stop, evaluate."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

import fusion.train as train_mod
from fusion.config import TrainConfig
from fusion.evaluate import evaluate
from fusion.train import TrainingError, train
from pipeline.errors import ConfigError
from tests.fusion import synthetic as syn


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return syn.write_dataset(tmp_path_factory.mktemp("syn"), subjects=3, trials=2, duration_s=6.0, teacher=True)


def config(dataset: Path, out: Path, **kw) -> TrainConfig:
    base = dict(manifest_path=dataset, out_dir=out, modalities=("eeg", "video", "audio", "ecg"),
                teacher="face:fusiontest_teacher", window_s=2.0, hop_s=1.0, batch_size=8, epochs=2,
                max_folds=1, d_model=16, n_heads=2, eeg_layers=1, fusion_layers=1, device="cpu",
                checkpoint_every=1, recon_weight=0.1)
    base.update(kw)
    return TrainConfig(**base)


def losses(run: Path) -> list[tuple[int, float]]:
    rows = [json.loads(x) for x in (run / "fold0" / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["total"]) for r in rows if r["kind"] == "train"]


def test_train_smoke_writes_a_run_and_evaluates(dataset: Path, tmp_path: Path) -> None:
    out = train(config(dataset, tmp_path / "run"))
    run = tmp_path / "run"
    for f in ("config.json", "config.yaml", "fingerprints.json", "folds.json", "summary.json",
              "fold0/metrics.jsonl", "fold0/best.pt", "fold0/last.pt", "fold0/loss.png", "fold0/gates.png"):
        assert (run / f).exists(), f
    assert set(out["summary"]) == {"valence", "arousal"}
    assert out["peak_memory_gb"] > 0 and out["peak_memory_kind"] == "peak_rss"
    assert "face" in json.loads((run / "fingerprints.json").read_text())
    ev = evaluate(run)
    assert json.dumps(ev["folds"][0]["test"]) == json.dumps(out["folds"][0]["test"])  # NaN-safe equality
    one = evaluate(run / "fold0" / "best.pt")
    assert json.dumps(one["folds"][0]["test"]) == json.dumps(out["folds"][0]["test"])
    assert "valence" in out["table"] and "pooled" in out
    with pytest.raises(ConfigError, match="--resume"):
        train(config(dataset, run))


def test_resume_reproduces_uninterrupted_losses(dataset: Path, tmp_path: Path, monkeypatch) -> None:
    full = tmp_path / "full"
    train(config(dataset, full))
    reference = losses(full)
    assert len(reference) >= 4
    real = train_mod.compute_losses
    calls = {"n": 0}

    def crash_after_three(*a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("simulated crash")
        return real(*a, **k)

    part = tmp_path / "part"
    monkeypatch.setattr(train_mod, "compute_losses", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        train(config(dataset, part))
    monkeypatch.setattr(train_mod, "compute_losses", real)
    train(config(dataset, part, resume=True))
    assert losses(part) == reference


def test_nan_loss_stops_naming_step_and_batch(dataset: Path, tmp_path: Path, monkeypatch) -> None:
    real = train_mod.compute_losses
    calls = {"n": 0}

    def nan_on_third(*a, **k):
        out = real(*a, **k)
        calls["n"] += 1
        if calls["n"] == 3:
            out["total"] = out["total"] * float("nan")
        return out

    monkeypatch.setattr(train_mod, "compute_losses", nan_on_third)
    with pytest.raises(TrainingError, match=r"at step 2 \(epoch 1, batch 0, windows"):
        train(config(dataset, tmp_path / "nan"))
    assert torch.load(tmp_path / "nan" / "fold0" / "last.pt", weights_only=False)["state"]["step"] == 2


@pytest.mark.parametrize("fusion", ["late", "prefix", "eeg-only"])
def test_other_fusions_and_patch_tokenizer_train(dataset: Path, tmp_path: Path, fusion: str) -> None:
    cfg = config(dataset, tmp_path / fusion, fusion=fusion, eeg_tokenizer="patch", max_steps=2, grad_accum=2,
                 split="trial", folds=2, task="regression", teacher=None)
    out = train(cfg)
    assert "ccc" in out["summary"]["valence"] or out["folds"][0]["n_test_windows"] > 0


def test_config_rejects_bad_values(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fusion='cross'.*split='window'"):
        config(dataset, tmp_path, fusion="cross", split="window")
    with pytest.raises(ConfigError, match="unknown key"):
        TrainConfig.from_dict({**config(dataset, tmp_path).to_dict(), "lr_max": 1})
    cfg = config(dataset, tmp_path)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert dataclasses.replace(cfg, seed=3).seed == 3


def test_fusion_never_imports_transformers() -> None:
    import subprocess
    import sys

    code = ("import sys, fusion.train, fusion.evaluate, fusion.model, fusion.data; "
            "assert 'transformers' not in sys.modules, 'transformers imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
