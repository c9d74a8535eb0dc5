"""The classic band-power baseline finds a planted band-power effect and nothing in noise."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from fusion.classic import (band_features, chance_metrics, classic_window_scores, make_classifier, majority_scores)
from pipeline.errors import ConfigError

SFREQ = 128.0
CHANNELS = ["F3", "F4", "O1", "O2"]


def _eeg(rng: np.random.Generator, n: int, alpha_gain: np.ndarray) -> np.ndarray:
    """(n, 4, 4 s) pink-ish noise plus a 10 Hz rhythm whose amplitude is ``alpha_gain`` per window."""
    t = np.arange(int(4 * SFREQ)) / SFREQ
    noise = np.cumsum(rng.standard_normal((n, len(CHANNELS), len(t))), axis=-1)
    noise -= noise.mean(axis=-1, keepdims=True)
    phase = rng.uniform(0, 2 * np.pi, (n, len(CHANNELS), 1))
    return (noise + 10 * alpha_gain[:, None, None] * np.sin(2 * np.pi * 10 * t + phase)).astype(np.float32)


def test_features_have_names_per_band_channel_and_frontal_asymmetry() -> None:
    x, names = band_features(_eeg(np.random.default_rng(0), 3, np.ones(3)), SFREQ, CHANNELS)
    assert x.shape == (3, 2 * 4 * 4 + 1) and len(names) == x.shape[1]
    assert "logpow/alpha/O2" in names and "de/gamma/F3" in names and names[-1] == "asym/alpha/F4-F3"
    # the 10 Hz rhythm makes alpha the strongest band
    i = {n: k for k, n in enumerate(names)}
    assert (x[:, i["logpow/alpha/O1"]] > x[:, i["logpow/beta/O1"]]).all()


def test_asymmetry_follows_a_planted_right_left_difference() -> None:
    w = _eeg(np.random.default_rng(1), 20, np.zeros(20))
    w[:, 1] += 20 * np.sin(2 * np.pi * 10 * np.arange(w.shape[-1]) / SFREQ)  # alpha on F4 only
    x, names = band_features(w, SFREQ, CHANNELS)
    assert (x[:, names.index("asym/alpha/F4-F3")] > 1.0).all()


@pytest.mark.parametrize("kind", ["logreg", "svm"])
def test_recovers_a_planted_alpha_effect_and_is_at_chance_on_noise(kind: str) -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 240)
    planted = _eeg(rng, 240, np.exp(0.6 * (y - 0.5) + 0.3 * rng.standard_normal(240)))
    s = classic_window_scores(planted[:160], y[:160], planted[160:], SFREQ, CHANNELS, kind)
    assert roc_auc_score(y[160:], s) > 0.85
    null = _eeg(rng, 240, np.exp(0.3 * rng.standard_normal(240)))
    s0 = classic_window_scores(null[:160], y[:160], null[160:], SFREQ, CHANNELS, kind)
    assert 0.3 < roc_auc_score(y[160:], s0) < 0.7


def test_majority_and_chance_rows() -> None:
    train_y = np.array([1, 1, 1, 0])
    s = majority_scores(train_y, 5)
    assert (s == 0.75).all()  # predicts the majority class 1 at threshold 0.5
    y = (np.arange(60) < 15).astype(int)  # prevalence 0.25
    coins = np.random.default_rng(3).integers(0, 2, (300, 60))
    expected_f1 = np.mean([f1_score(y, c, average="macro") for c in coins])
    assert chance_metrics(y)["macro_f1"] == pytest.approx(expected_f1, abs=0.02)
    with pytest.raises(ConfigError, match="unknown classic classifier 'lda'"):
        make_classifier("lda")


def test_fold_scores_on_real_window_sets(tmp_path) -> None:
    """One call per fold on fusion.data's WindowSets: a score per test window and label."""
    from fusion.batches import encode_labels
    from fusion.classic import classic_fold_scores
    from fusion.data import prepare_data
    from pipeline.cache import FeatureCache
    from pipeline.manifest import load_manifest
    from tests.fusion import synthetic as syn

    m = load_manifest(syn.write_dataset(tmp_path / "syn", subjects=3, trials=2, duration_s=8.0))
    ws = prepare_data(m, FeatureCache(m.cache), ("eeg",), {}, None, 2.0, 1.0).windows
    train, test = ws.subset(["s0_t0", "s0_t1", "s1_t0", "s1_t1"]), ws.subset(["s2_t0", "s2_t1"])
    y, ym = encode_labels(train, ("valence", "arousal"), "binary", m.label_scales, {})
    ym[0, 1] = False  # a recording without arousal is left out of that label's training windows
    s = classic_fold_scores(train, test, y, ym)
    assert s.shape == (len(test), 2) and ((s >= 0) & (s <= 1)).all()
