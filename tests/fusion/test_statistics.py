"""Statistics against known distributions: permutation p-values, bootstrap coverage, paired tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fusion.metrics import METRICS, label_metrics, metric_value
from fusion.predictions import COLUMNS, load_run, write_table
from fusion.statistics import (bootstrap_interval, compare_runs, headline_stats, permutation_test, per_subject,
                               within_subject_permutations)
from pipeline.errors import ConfigError


def _table(rng: np.random.Generator, n_subj: int = 12, n_trials: int = 20, skill: float = 0.0,
           label: str = "valence") -> pd.DataFrame:
    """Trial rows; ``skill`` in [0, 1] mixes the true class into the score (0 = pure noise)."""
    subj = np.repeat([f"S{i:02d}" for i in range(n_subj)], n_trials)
    y = rng.integers(0, 2, len(subj))
    score = np.clip(skill * y + (1 - skill) * rng.random(len(subj)), 0, 1)
    return pd.DataFrame({"recording": [f"r{i}" for i in range(len(subj))], "subject": subj, "label": label,
                         "target": y * 8 + 1.0, "target_binary": y, "score": score, "fold": 0, "split": "test",
                         "start_s": 0.0, "end_s": 4.0}).reindex(columns=list(COLUMNS))


def test_fast_metric_values_match_the_reference_metrics() -> None:
    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 50).astype(float), rng.random(50)
    ref = label_metrics(y, s, "binary")
    for name in METRICS["binary"]:
        assert metric_value(name, y, s, "binary") == pytest.approx(ref[name])
    with pytest.raises(KeyError, match="unknown binary metric 'mae'"):
        metric_value("mae", y, s, "binary")


def test_permutations_stay_within_subject() -> None:
    codes = np.array([2, 0, 1, 0, 2, 1, 0, 2])
    perms = within_subject_permutations(codes, 50, np.random.default_rng(0))
    assert (codes[perms] == codes[None, :]).all()
    assert all(sorted(p) == list(range(8)) for p in perms)
    assert len({tuple(p) for p in perms}) > 10  # really shuffled


def test_a_perfect_predictor_is_far_from_chance() -> None:
    res = permutation_test(_table(np.random.default_rng(1), skill=1.0), "binary", "accuracy", seed=0)
    assert res["observed"] == 1.0 and res["p_value"] < 0.01
    assert res["null_mean"] == pytest.approx(0.5, abs=0.03)


def test_p_values_of_a_shuffled_predictor_are_roughly_uniform() -> None:
    rng = np.random.default_rng(2)
    p = [permutation_test(_table(rng, n_subj=6, n_trials=10), "binary", "balanced_accuracy", 200, seed=k)["p_value"]
         for k in range(60)]
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert 0.3 < np.mean(p) < 0.7


def test_bootstrap_interval_covers_the_true_value() -> None:
    """Each subject's trials are right with probability 0.75: the pooled accuracy's true value is 0.75."""
    rng = np.random.default_rng(3)
    covered = 0
    for k in range(20):
        df = _table(rng, n_subj=15, n_trials=20)
        right = rng.random(len(df)) < 0.75
        df["score"] = np.where(right, df["target_binary"], 1 - df["target_binary"]).astype(float)
        low, high = bootstrap_interval(df, "binary", "accuracy", n_resamples=500, seed=k)
        assert low < high and high - low < 0.2
        covered += low <= 0.75 <= high
    assert covered >= 16  # nominal 95 %: 19 of 20 expected


def test_headline_stats_per_label() -> None:
    df = pd.concat([_table(np.random.default_rng(4), skill=0.8), _table(np.random.default_rng(5), label="arousal")])
    out = headline_stats(df, "binary", n_permutations=200)
    assert out["valence"]["metric"] == "balanced_accuracy" and out["valence"]["p_value"] < 0.01
    assert out["valence"]["ci_low"] <= out["valence"]["value"] <= out["valence"]["ci_high"]
    assert out["arousal"]["p_value"] > 0.01 and out["arousal"]["n_subjects"] == 12
    assert set(out["valence"]["per_subject"]) == {f"S{i:02d}" for i in range(12)}


def _run(path: Path, windows: pd.DataFrame, folds: list[dict], labels: list[str] | None = None) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"labels": labels or ["valence"], "task": "binary"}))
    (path / "folds.json").write_text(json.dumps(folds))
    write_table(windows, path / "fold0")
    return path


def test_compare_runs_pairs_subjects_and_refuses_unpaired_runs(tmp_path: Path) -> None:
    base = _table(np.random.default_rng(6))
    good = base.assign(score=np.clip(0.8 * base["target_binary"] + 0.2 * np.random.default_rng(7).random(len(base)),
                                     0, 1))
    folds = [{"index": 0, "train": [], "val": [], "test": list(base["recording"])}]
    a, b = load_run(_run(tmp_path / "a", good, folds)), load_run(_run(tmp_path / "b", base, folds))
    res = compare_runs(a, b)["valence"]
    assert res["n_subjects"] == 12 and res["mean_difference"] > 0.2
    assert 0 < res["ci_low"] <= res["mean_difference"] <= res["ci_high"]
    assert res["wilcoxon_p"] < 0.01
    assert compare_runs(a, a)["valence"]["wilcoxon_p"] == 1.0
    other = load_run(_run(tmp_path / "c", base, [{**folds[0], "test": folds[0]["test"][:-1]}]))
    with pytest.raises(ConfigError, match="folds.json"):
        compare_runs(a, other)
    fewer = load_run(_run(tmp_path / "d", base[base.subject != "S00"], folds))
    with pytest.raises(ConfigError, match=r"test subjects differ \(\['S00'\]\)"):
        compare_runs(a, fewer)
    arousal = load_run(_run(tmp_path / "e", base.assign(label="arousal"), folds, ["arousal"]))
    with pytest.raises(ConfigError, match="labels differ"):
        compare_runs(a, arousal)


def test_per_subject_metric_is_nan_where_undefined() -> None:
    df = _table(np.random.default_rng(8), n_subj=2, n_trials=4)
    df.loc[df.subject == "S00", "target_binary"] = 1
    res = per_subject(df, "binary", "auroc")
    assert np.isnan(res["S00"]) and not np.isnan(res["S01"])
