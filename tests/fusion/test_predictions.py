"""The predictions table: built from windows, written and read back, aggregated per trial."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusion.predictions import (COLUMNS, aggregate_trials, load_run, predictions_frame, read_table, table_results,
                                write_table)
from pipeline.manifest import LabelScale, Recording

SCALES = {"valence": LabelScale(min=1, max=9, threshold=5), "arousal": LabelScale(min=1, max=9)}


def _recs() -> list[Recording]:
    return [Recording(id="a1", dataset="d", subject="A", trial="1", stimulus="clip1", streams={},
                      labels={"valence": 7.0, "arousal": 3.0}),
            Recording(id="a2", dataset="d", subject="A", trial="2", stimulus="clip2", streams={},
                      labels={"valence": 2.0}, session="s1")]


def _frame(task: str = "binary") -> pd.DataFrame:
    # recording a1: windows at 0, 2, 4 s; a2: windows at 0, 2 s (4 s windows, 2 s hop)
    rec_idx = np.array([0, 0, 0, 1, 1])
    starts = np.array([0.0, 2.0, 4.0, 0.0, 2.0])
    score = np.array([[0.9, 0.2], [0.7, 0.4], [0.2, 0.3], [0.4, 0.6], [0.1, 0.6]])
    return predictions_frame(_recs(), rec_idx, starts, 4.0, score, ["valence", "arousal"], SCALES, {}, task, fold=3)


def test_one_row_per_window_and_present_label_with_its_identity() -> None:
    df = _frame()
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 3 * 2 + 2 * 1  # a2 has no arousal label: no rows for it
    row = df[(df.recording == "a2") & (df.start_s == 2.0)].iloc[0]
    assert (row.subject, row.session, row.trial, row.stimulus, row.end_s, row.fold) == ("A", "s1", "2", "clip2", 6.0, 3)
    assert (row.label, row.target, row.target_binary, row.score) == ("valence", 2.0, 0, 0.1)
    # arousal has no threshold: the scale's midpoint (5) binarises 3.0 to 0
    assert set(df[df.label == "arousal"].target_binary) == {0}


def test_regression_scores_go_back_to_the_labels_units() -> None:
    df = _frame("regression")
    assert df[(df.recording == "a1") & (df.label == "valence")].score.tolist() == pytest.approx([8.2, 6.6, 2.6])


def test_trial_score_is_the_mean_of_its_window_scores() -> None:
    trials = aggregate_trials(_frame())
    a1 = trials[(trials.recording == "a1") & (trials.label == "valence")].iloc[0]
    assert a1.score == pytest.approx((0.9 + 0.7 + 0.2) / 3) and a1.n_windows == 3
    assert (a1.start_s, a1.end_s, a1.target, a1.target_binary) == (0.0, 8.0, 7.0, 1)
    assert len(trials) == 3


def test_trial_and_window_metrics_differ_as_computed_by_hand() -> None:
    res = table_results(_frame(), "binary")
    # windows (valence): targets 1,1,1,0,0, predictions 1,1,0,0,0 -> 4/5
    assert res["window"]["valence"]["accuracy"] == pytest.approx(0.8)
    # trials: a1 mean 0.6 -> 1 (target 1), a2 mean 0.25 -> 0 (target 0) -> 2/2
    assert res["trial"]["valence"]["accuracy"] == pytest.approx(1.0)


def test_csv_round_trip_keeps_ids_as_text(tmp_path: Path) -> None:
    df = _frame()
    df.loc[:, "trial"] = "07"  # a leading zero that a numeric reader would drop
    (path, *_) = write_table(df, tmp_path / "fold0")
    back = read_table(path)
    assert back.trial.tolist() == ["07"] * len(df)
    pd.testing.assert_frame_equal(back.drop(columns=["trial", "session", "recording", "subject", "stimulus", "label",
                                                     "split"]),
                                  df.drop(columns=["trial", "session", "recording", "subject", "stimulus", "label",
                                                   "split"]), check_dtype=False)


def test_load_run_reads_tables_or_falls_back_to_legacy_npz(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "fold0").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"labels": ["valence"], "task": "binary"}))
    np.savez(run / "fold0" / "test_predictions.npz", score=np.array([[0.8], [0.3]]), y=np.array([[1.0], [0.0]]),
             mask=np.array([[True], [True]]), subjects=np.array(["A", "B"]))
    legacy = load_run(run)
    assert legacy.legacy and len(legacy.windows) == 2 and legacy.trials.empty
    write_table(_frame(), run / "fold0")
    fresh = load_run(run)
    assert not fresh.legacy and len(fresh.trials) == 3


def test_window_table_and_eeg_windows_on_a_real_window_set(tmp_path: Path) -> None:
    """Against fusion.data's WindowSet over a synthetic cache: one row per window and label, times
    on the recording clock, and the classic baseline's EEG windows are the cached samples."""
    from fusion.batches import encode_labels, make_batch
    from fusion.classic import eeg_windows
    from fusion.data import prepare_data
    from fusion.normalise import fit_normaliser
    from fusion.predictions import window_table
    from pipeline.cache import FeatureCache
    from pipeline.manifest import load_manifest
    from tests.fusion import synthetic as syn

    m = load_manifest(syn.write_dataset(tmp_path / "syn", subjects=2, trials=2, duration_s=8.0))
    ws = prepare_data(m, FeatureCache(m.cache), ("eeg",), {}, None, 2.0, 1.0).windows
    score = np.random.default_rng(0).random((len(ws), 2))
    df = window_table(ws, score, ["valence", "arousal"], m.label_scales, {}, "binary", fold=0)
    assert len(df) == 2 * len(ws) == 2 * 4 * 7
    first = df[(df.recording == "s1_t0") & (df.label == "valence")]
    assert first.start_s.tolist() == [float(k) for k in range(7)] and (first.end_s - first.start_s == 2.0).all()
    assert set(first.target) == {m.by_id()["s1_t0"].labels["valence"]}
    x = eeg_windows(ws)
    assert x.shape == (len(ws), syn.CHANNELS, int(2.0 * syn.SFREQ))
    rf = ws.features[ws.rec_idx[3]]
    np.testing.assert_array_equal(x[3], rf.eeg[:, int(3 * syn.SFREQ):int(5 * syn.SFREQ)])
    # the same windows the trainer feeds the model (before its normalisation)
    norm = fit_normaliser(ws.features, ws.inputs, ())
    y, ym = encode_labels(ws, ("valence",), "binary", m.label_scales, {})
    assert make_batch(ws, np.arange(4), norm, y, ym).eeg.shape[1:] == x.shape[1:]
