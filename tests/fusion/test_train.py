"""train(cfg) end to end on a tiny synthetic cache: smoke, exact resume, NaN stop, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import fusion.train as train_mod
from fusion.checkpoint import load_checkpoint
from fusion.train_config import TrainConfig
from fusion.evaluate import evaluate
from fusion.train import train
from pipeline.errors import TrainingError
from pipeline.errors import ConfigError
from tests.fusion import synthetic as syn


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return syn.write_dataset(tmp_path_factory.mktemp("syn"), subjects=3, trials=2, duration_s=6.0, teacher=True)


def config(dataset: Path, out: Path, **kw) -> TrainConfig:
    base = dict(manifest=dataset, out=out, modalities=("eeg", "video", "audio", "ecg"),
                teacher="face:fusiontest_teacher", window_s=2.0, hop_s=1.0, batch_size=8, epochs=2,
                max_folds=1, d_model=16, n_heads=2, eeg_layers=1, fusion_layers=1, device="cpu",
                checkpoint_every=1, recon_weight=0.1)
    base.update(kw)
    return TrainConfig.from_options(**base)


def losses(run: Path) -> list[tuple[int, float]]:
    rows = [json.loads(x) for x in (run / "fold0" / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["total"]) for r in rows if r["kind"] == "train"]


def interrupt_then_resume(dataset: Path, run: Path, monkeypatch, **kw) -> None:
    """Crash the run at its fourth loss computation (after three steps), then ``--resume`` it."""
    real = train_mod.compute_losses
    calls = {"n": 0}

    def crash_after_three(*a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("simulated crash")
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "compute_losses", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        train(config(dataset, run, **kw))
    monkeypatch.setattr(train_mod, "compute_losses", real)
    train(config(dataset, run, resume=True, **kw))


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
    part = tmp_path / "part"
    interrupt_then_resume(dataset, part, monkeypatch)
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
    assert load_checkpoint(tmp_path / "nan" / "fold0" / "last.pt")["state"]["step"] == 2


@pytest.mark.parametrize("fusion", ["late", "prefix", "eeg-only"])
def test_other_fusions_and_patch_tokenizer_train(dataset: Path, tmp_path: Path, fusion: str) -> None:
    cfg = config(dataset, tmp_path / fusion, fusion=fusion, eeg_tokenizer="patch", max_steps=2, grad_accum=2,
                 split="trial", folds=2, task="regression", teacher=None)
    out = train(cfg)
    assert "ccc" in out["summary"]["valence"] or out["folds"][0]["n_test_windows"] > 0


def test_config_rejects_bad_values(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fusion='cross'.*split='window'"):
        config(dataset, tmp_path, fusion="cross", split="window")
    with pytest.raises(ConfigError, match="unknown config key 'lr_max' for TrainConfig"):
        TrainConfig.from_dict({**config(dataset, tmp_path).to_dict(), "lr_max": 1})
    cfg = config(dataset, tmp_path)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.override(seed=3).runtime.seed == 3


def test_fusion_never_imports_transformers() -> None:
    import subprocess
    import sys

    code = ("import sys, fusion.train, fusion.evaluate, fusion.model, fusion.data; "
            "assert 'transformers' not in sys.modules, 'transformers imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_vram_budget_probe_changes_nothing_and_refuses_over_budget(dataset: Path, tmp_path: Path) -> None:
    train(config(dataset, tmp_path / "plain"))
    out = train(config(dataset, tmp_path / "probed", vram_budget_gb=50.0))
    assert losses(tmp_path / "probed") == losses(tmp_path / "plain")  # the probe leaves weights and RNGs as they were
    result = out["folds"][0]
    assert result["probe_peak_kind"] == "tensor_peak" and 0 < result["probe_peak_gb"] < 50.0
    assert result["probe_batch"] == 8
    small = result["probe_peak_gb"]
    with pytest.raises(TrainingError, match=r"over --vram-budget 1e-06 GiB; nothing was trained.*--batch-size"):
        train(config(dataset, tmp_path / "refused", vram_budget_gb=1e-6))
    assert not (tmp_path / "refused" / "fold0" / "last.pt").exists()
    assert not (tmp_path / "refused" / "fold0" / "metrics.jsonl").exists()
    big = train(config(dataset, tmp_path / "big", vram_budget_gb=50.0, batch_size=32, max_steps=1))
    assert big["folds"][0]["probe_peak_gb"] > small  # measured, not a constant: grows with the batch


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_paths_train_on_cpu(dataset: Path, tmp_path: Path, amp: str) -> None:
    """The autocast and fp16 grad-scaler code is device-agnostic; CPU runs the same lines CUDA does."""
    out = train(config(dataset, tmp_path / amp, amp=amp, max_steps=3, vram_budget_gb=50.0))
    rows = losses(tmp_path / amp)
    assert len(rows) == 3 and all(torch.isfinite(torch.tensor(v)) for _, v in rows)
    assert out["folds"][0]["probe_amp"] == amp


def test_ema_teacher_update_is_the_moving_average() -> None:
    from fusion.ema import EmaTeacher

    student = torch.nn.Linear(3, 2)
    ema = EmaTeacher(student, decay=0.9)
    before = [p.detach().clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    ema.update(student)
    for t, b, s in zip(ema.model.parameters(), before, student.parameters()):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * s)
        assert not t.requires_grad
    assert not ema.model.training


def test_ema_teacher_sees_the_clean_window(dataset: Path, tmp_path: Path) -> None:
    import numpy as np

    from fusion.batches import make_batch
    from fusion.splits import make_folds
    from fusion.steps import training_batch
    from fusion.train import _fold_data, load_data

    cfg = config(dataset, tmp_path / "x", ema_weight=1.0, modality_dropout=0.9, aug_noise=0.5)
    prep = load_data(cfg)
    d = cfg.data
    fold = make_folds([rf.rec for rf in prep.windows.features], d.split, d.folds, cfg.runtime.seed, d.val_subjects)[0]
    sets, norm, labels = _fold_data(cfg, prep, fold)
    idx = np.arange(8)
    b = training_batch(cfg, sets["train"], idx, norm, *labels["train"], torch.Generator().manual_seed(0), prep.teacher)
    clean = make_batch(sets["train"], idx, norm, *labels["train"])
    torch.testing.assert_close(b.clean_eeg, clean.eeg)
    assert not torch.equal(b.eeg, clean.eeg)  # the student's view is augmented
    for name in clean.masks:
        assert torch.equal(b.clean_masks[name], clean.masks[name])
    assert any(not torch.equal(b.masks[n], clean.masks[n]) for n in clean.masks)  # and modality-dropped


def test_ema_self_distillation_trains_and_resumes_exactly(dataset: Path, tmp_path: Path, monkeypatch) -> None:
    full = tmp_path / "full"
    out = train(config(dataset, full, ema_weight=0.5, ema_decay=0.9, vram_budget_gb=50.0))
    plain = train(config(dataset, tmp_path / "plain", vram_budget_gb=50.0, max_steps=1))
    assert out["folds"][0]["probe_peak_gb"] > plain["folds"][0]["probe_peak_gb"]  # the teacher's memory counts
    rows = [json.loads(x) for x in (full / "fold0" / "metrics.jsonl").read_text().splitlines()]
    ema_losses = [r["ema"] for r in rows if r["kind"] == "train"]
    assert len(ema_losses) >= 4 and all(0 <= v <= 2 for v in ema_losses)
    assert "ema" in load_checkpoint(full / "fold0" / "last.pt")
    part = tmp_path / "part"
    interrupt_then_resume(dataset, part, monkeypatch, ema_weight=0.5, ema_decay=0.9)
    assert losses(part) == losses(full)  # the EMA weights are part of the checkpoint
