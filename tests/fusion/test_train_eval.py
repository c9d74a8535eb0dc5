"""The trainer's evaluation outputs: predictions tables, trial-level summary, regression MAE in the
label's units, the classic baseline as a trainer mode and per-epoch progress."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusion.loop_state import FoldProgress
from fusion.predictions import COLUMNS, read_table
from fusion.results import evaluate_run
from fusion.train import train
from fusion.train_config import TrainConfig
from pipeline.errors import ConfigError
from tests.fusion import synthetic as syn


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return syn.write_dataset(tmp_path_factory.mktemp("syn_eval"), subjects=3, trials=4, duration_s=6.0,
                             video=False, audio=False, ecg=False)


def config(dataset: Path, out: Path, **kw) -> TrainConfig:
    base = dict(manifest=dataset, out=out, modalities=("eeg",), fusion="eeg-only", window_s=2.0, hop_s=1.0,
                batch_size=8, epochs=1, split="trial", folds=2, max_folds=1, d_model=16, n_heads=2, eeg_layers=1,
                fusion_layers=1, device="cpu")
    base.update(kw)
    return TrainConfig.from_options(**base)


def test_fold_writes_predictions_and_summary_leads_with_trial_level(dataset: Path, tmp_path: Path) -> None:
    out = train(config(dataset, tmp_path / "run"))
    table = read_table(tmp_path / "run" / "fold0" / "predictions.csv")
    assert list(table.columns) == list(COLUMNS)
    result = out["folds"][0]
    assert len(table) == 2 * result["n_test_windows"]                # one row per window and label
    assert set(table["recording"]) == set(json.loads((tmp_path / "run" / "folds.json").read_text())[0]["test"])
    assert (table["end_s"] - table["start_s"]).round(6).eq(2.0).all() and set(table["split"]) == {"test"}
    assert table["target"].between(1, 9).all() and set(table["target_binary"]) <= {0, 1}
    assert table["target_binary"].eq((table["target"] > 5).astype(int)).all()
    n_trials = table.groupby(["recording", "label"]).ngroups
    assert set(out["trial"]) == {"valence", "arousal"} and set(out["window"]) == {"valence", "arousal"}
    assert out["table"].splitlines()[0].startswith("trial level")
    assert "test_trial" in result and json.loads((tmp_path / "run" / "summary.json").read_text())["trial"]
    assert n_trials == 2 * len(set(table["recording"]))


def test_regression_mae_is_in_the_labels_own_units(dataset: Path, tmp_path: Path) -> None:
    """Issue 14 item 11: MAE was computed on labels rescaled to [0, 1] (8x too small on a 1-9 scale)."""
    out = train(config(dataset, tmp_path / "run", task="regression"))
    table = read_table(tmp_path / "run" / "fold0" / "predictions.csv")
    val = table[table["label"] == "valence"]
    expected = float(np.abs(val["target"] - val["score"]).mean())      # rating points, from the table
    got = out["folds"][0]["test"]["overall"]["valence"]["mae"]
    assert got == pytest.approx(expected, rel=1e-5)
    assert out["window"]["valence"]["mae"] == pytest.approx(expected, rel=1e-5)
    assert got > 0.2  # a [0, 1]-scale MAE of uniform 1-9 ratings would be below 0.5 and 8x smaller
    ev = evaluate_run(tmp_path / "run", n_permutations=20)                  # reads the nested config.json
    assert ev["task"] == "regression" and ev["headline"]["valence"]["metric"] == "ccc"
    assert ev["window"]["valence"]["mae"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("classic_model", ["logreg", "svm"])
def test_classic_mode_recovers_the_planted_band_power_effect(dataset: Path, tmp_path: Path, classic_model: str) -> None:
    """The synthetic EEG carries a 6 Hz (theta) sine 10x stronger for high valence: band power sees it."""
    out = train(config(dataset, tmp_path / "run", fusion="classic", labels=("valence",), max_folds=None,
                       classic_model=classic_model))
    tables = pd.concat([read_table(tmp_path / "run" / f"fold{i}" / "predictions.csv") for i in range(2)])
    assert tables["recording"].nunique() == 12                          # every recording tested once
    assert out["window"]["valence"]["balanced_accuracy"] >= 0.85                # chance is 0.5
    assert out["trial"]["valence"]["balanced_accuracy"] >= 0.8                  # 12 trials: at most 2 wrong
    assert not (tmp_path / "run" / "fold0" / "best.pt").exists()


def test_a_finished_classic_run_is_not_overwritten_without_resume(dataset: Path, tmp_path: Path) -> None:
    """Classic runs write no checkpoints; the finished run's summary still guards its folder."""
    cfg = config(dataset, tmp_path / "run", fusion="classic", labels=("valence",), max_folds=1)
    train(cfg)
    before = (tmp_path / "run" / "summary.json").read_text()
    with pytest.raises(ConfigError, match="already holds a run"):
        train(cfg)
    assert (tmp_path / "run" / "summary.json").read_text() == before


def test_classic_mode_refuses_regression(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="classic"):
        config(dataset, tmp_path / "run", fusion="classic", task="regression")


def test_progress_callback_gets_every_epoch_with_its_validation_score(dataset: Path, tmp_path: Path) -> None:
    seen: list[FoldProgress] = []
    train(config(dataset, tmp_path / "run", folds=3, max_folds=2, epochs=2, early_stop_patience=5),
          progress=seen.append)
    per_epoch = [(p.position, p.epoch) for p in seen if not p.done]
    assert per_epoch == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert all(isinstance(p.val_score, float) and p.n_folds == 2 and p.epochs == 2 for p in seen if not p.done)
    assert [(p.position, p.done) for p in seen if p.done] == [(1, True), (2, True)]
    rows = [json.loads(x) for x in (tmp_path / "run" / "fold0" / "metrics.jsonl").read_text().splitlines()]
    assert [r["val_score"] for r in rows if r["kind"] == "val"] == [p.val_score for p in seen[:2]]


def test_within_subject_trains_one_model_per_subject_and_fold_and_pools(dataset: Path, tmp_path: Path) -> None:
    out = train(config(dataset, tmp_path / "run", split="within-subject", max_folds=None))
    assert len(out["folds"]) == 3 * 2                                  # one model per (subject, fold)
    tested = pd.concat([read_table(tmp_path / "run" / f"fold{i}" / "predictions.csv") for i in range(6)])
    assert tested.groupby("fold")["subject"].nunique().eq(1).all()
    assert tested["recording"].nunique() == 12 and set(out["trial"]) == {"valence", "arousal"}


def _with_baselines(root: Path) -> Path:
    """The synthetic dataset plus, per recording, an EEG stream ``eeg_base`` with ``part: baseline``
    (as the DEAP adapter writes) whose cache entry has a known mean (10 + recording number)."""
    import yaml

    from pipeline.cache import FeatureCache
    from pipeline.extractors.base import FeatureArrays
    from pipeline.manifest import load_manifest

    path = syn.write_dataset(root, subjects=3, trials=2, duration_s=6.0, video=False, audio=False, ecg=False)
    doc = yaml.safe_load(path.read_text())
    for rec in doc["datasets"][0]["recordings"]:
        rec["modalities"]["eeg_base"] = {"kind": "eeg", "path": f"{rec['id']}_base.edf", "options": {"part": "baseline"}}
        (root / f"{rec['id']}_base.edf").touch()
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    manifest = load_manifest(path)
    cache = FeatureCache(manifest.cache)
    eeg_path = next(g.path for g in cache.groups("eeg") if "fusiontest_eeg" in g.path)
    t = np.arange(64) / syn.SFREQ
    for i, rec in enumerate(manifest.recordings):
        data = np.full((64, syn.CHANNELS), 10.0 + i, np.float32) + np.random.default_rng(i).normal(0, 1, (64, 4))
        cache.write_entry(eeg_path, rec.id, "eeg_base", FeatureArrays(
            t, {"data": data.astype(np.float32)}, {"sfreq": syn.SFREQ, "ch_names": [f"C{c}" for c in range(4)]}), "h")
    return path


def test_baseline_normalisation_reads_each_recordings_baseline_stream(tmp_path: Path) -> None:
    import torch

    dataset = _with_baselines(tmp_path / "data")
    train(config(dataset, tmp_path / "run", normalise="baseline"))
    norm = torch.load(tmp_path / "run" / "fold0" / "best.pt", weights_only=False)["normaliser"]
    means = {rid: np.mean(stats[0]) for rid, stats in norm["eeg_recording"].items()}
    assert len(means) == 6                                               # test recordings included
    for i, rid in enumerate(sorted(means)):
        assert means[rid] == pytest.approx(10.0 + i, abs=0.5)


def test_baseline_normalisation_without_baselines_is_a_clear_error(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="part: baseline"):
        train(config(dataset, tmp_path / "run", normalise="baseline"))
