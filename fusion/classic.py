"""The classic EEG-emotion baseline, and the majority-class and chance rows.

Why: a reader cannot tell whether 0.63 is good without the numbers a decades-old method and a
constant guess get on the very same windows, splits and metrics. The classic method is the one
most EEG-emotion papers compare against: per window and channel, the log band power (Welch) and
the differential entropy (DE; for a band-passed Gaussian signal, 0.5 ln(2 pi e variance)) in
theta, alpha, beta and gamma, plus frontal alpha asymmetry (ln right - ln left alpha power) for
the symmetric pairs whose channel names are present, standardised, into a logistic regression
(or an RBF SVM). Scores are probabilities of the high class, as the trainer's are, so the
predictions table, trial aggregation and statistics apply unchanged.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import signal
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from fusion.metrics import label_metrics
from pipeline.errors import ConfigError

_log = logging.getLogger(__name__)

BANDS: dict[str, tuple[float, float]] = {"theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0),
                                         "gamma": (30.0, 45.0)}
ASYMMETRY_PAIRS = (("FP2", "FP1"), ("AF4", "AF3"), ("F4", "F3"), ("F8", "F7"), ("FC6", "FC5"))
CLASSIFIERS = ("logreg", "svm")


def _usable_bands(sfreq: float) -> dict[str, tuple[float, float]]:
    """Bands below Nyquist (a 128 Hz recording has no content above 64 Hz)."""
    bands = {k: v for k, v in BANDS.items() if v[1] < sfreq / 2}
    if not bands:
        raise ConfigError(f"classic baseline: sampling rate {sfreq} Hz is too low for any of the bands {BANDS}.")
    for k in BANDS.keys() - bands.keys():
        _log.warning("classic baseline: %s band %s Hz is above Nyquist at %s Hz; left out", k, BANDS[k], sfreq)
    return bands


def band_features(windows: np.ndarray, sfreq: float, ch_names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Features (N, F) and their names from EEG windows (N, C, T) in microvolts at ``sfreq`` Hz:
    ``logpow/<band>/<ch>``, ``de/<band>/<ch>`` and ``asym/alpha/<right>-<left>``."""
    if windows.ndim != 3 or windows.shape[1] != len(ch_names):
        raise ValueError(f"windows have shape {windows.shape}; expected (N, {len(ch_names)} channels, T)")
    bands = _usable_bands(sfreq)
    freqs, psd = signal.welch(windows, fs=sfreq, nperseg=min(windows.shape[-1], int(2 * sfreq)), axis=-1)
    feats, names, alpha_log = [], [], {}
    for band, (lo, hi) in bands.items():
        sel = (freqs >= lo) & (freqs < hi)
        power = np.trapezoid(psd[..., sel], freqs[sel], axis=-1)                     # (N, C) uV^2
        feats.append(np.log(power + 1e-12))
        names += [f"logpow/{band}/{ch}" for ch in ch_names]
        if band == "alpha":
            alpha_log = {ch.upper(): feats[-1][:, i] for i, ch in enumerate(ch_names)}
        sos = signal.butter(4, [lo, hi], btype="bandpass", fs=sfreq, output="sos")
        var = signal.sosfiltfilt(sos, windows, axis=-1).var(axis=-1)                 # (N, C)
        feats.append(0.5 * np.log(2 * np.pi * np.e * (var + 1e-12)))
        names += [f"de/{band}/{ch}" for ch in ch_names]
    for right, left in ASYMMETRY_PAIRS:
        if right in alpha_log and left in alpha_log:
            feats.append((alpha_log[right] - alpha_log[left])[:, None])
            names.append(f"asym/alpha/{right}-{left}")
    return np.concatenate(feats, axis=1), names


def make_classifier(kind: str = "logreg", seed: int = 0) -> Pipeline:
    """Standardise, then logistic regression ("logreg") or an RBF SVM with calibrated probabilities ("svm")."""
    if kind == "logreg":
        model: Any = LogisticRegression(max_iter=2000, random_state=seed)
    elif kind == "svm":
        model = CalibratedClassifierCV(SVC(kernel="rbf", random_state=seed), ensemble=False)
    else:
        raise ConfigError(f"unknown classic classifier '{kind}'. Use one of {list(CLASSIFIERS)}.")
    return make_pipeline(StandardScaler(), model)


def classic_scores(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, kind: str = "logreg",
                   seed: int = 0) -> np.ndarray:
    """Probability of the high class for each test row, from features ``train_x`` (N, F) and binary
    ``train_y`` (N,). A training side with one class predicts that class (logged)."""
    classes = np.unique(train_y)
    if len(classes) < 2:
        _log.warning("classic baseline: training side has only class %s; predicting it", classes)
        return np.full(len(test_x), float(classes[0]) if len(classes) else 0.5)
    clf = make_classifier(kind, seed).fit(train_x, train_y.astype(int))
    return clf.predict_proba(test_x)[:, 1]


def classic_window_scores(train_windows: np.ndarray, train_y: np.ndarray, test_windows: np.ndarray, sfreq: float,
                          ch_names: Sequence[str], kind: str = "logreg", seed: int = 0) -> np.ndarray:
    """``classic_scores`` straight from EEG windows (N, C, T): one call per fold."""
    return classic_scores(band_features(train_windows, sfreq, ch_names)[0], train_y,
                          band_features(test_windows, sfreq, ch_names)[0], kind, seed)


def classic_fold_scores(train_ws: Any, test_ws: Any, y_train: np.ndarray, m_train: np.ndarray, kind: str = "logreg",
                        seed: int = 0, norm: Any = None) -> np.ndarray:
    """Scores (W_test, L) for one fold from two ``fusion.data.WindowSet`` sides and the training
    side's per-recording binary targets and label mask (R_train, L), as ``encode_labels`` gives.
    Features are computed once per side; one classifier per label, fitted on the windows of the
    recordings that have that label. ``norm``: a ``fusion.normalise.Normaliser`` whose EEG z-scores
    are applied to every window first (``--normalise subject|baseline``); None = raw microvolts."""
    sfreq, ch = train_ws.sfreq, train_ws.features[0].ch_names
    x_train = band_features(eeg_windows(train_ws, norm), sfreq, ch)[0]
    x_test = band_features(eeg_windows(test_ws, norm), sfreq, ch)[0]
    out = np.zeros((len(test_ws), y_train.shape[1]), np.float32)
    for j in range(y_train.shape[1]):
        keep = m_train[train_ws.rec_idx, j].astype(bool)
        out[:, j] = classic_scores(x_train[keep], y_train[train_ws.rec_idx, j][keep], x_test, kind, seed)
    return out


def eeg_windows(ws: Any, norm: Any = None) -> np.ndarray:
    """The EEG of every window of a ``fusion.data.WindowSet`` as one array (N, C, T), un-normalised
    unless a ``Normaliser`` is given."""
    out = np.zeros((len(ws), len(ws.features[0].ch_names) if ws.features else 0, ws.n_samples), np.float32)
    for i, (r_i, start) in enumerate(zip(ws.rec_idx, ws.starts)):
        rf = ws.features[int(r_i)]
        s = int(round((start - rf.eeg_t0) * ws.sfreq))
        seg = rf.eeg[:, s:s + ws.n_samples]
        out[i] = seg if norm is None else norm.apply_eeg(rf.rec, seg)
    return out


def majority_scores(train_y: np.ndarray, n: int) -> np.ndarray:
    """A constant guess for ``n`` rows: the training prevalence of the high class (binary: it
    predicts the majority class, and its AUROC is 0.5) or the training mean (regression)."""
    return np.full(n, float(np.mean(train_y)) if len(train_y) else 0.5)


def majority_metrics(table: pd.DataFrame, task: str) -> dict[str, float]:
    """Metrics of the constant guess on a predictions table (one label; its ``score`` is ignored).

    Each fold's training labels are approximated by the other folds' test rows (exact for k-fold
    splits whose test sides partition the recordings; a single fold uses its own test labels). A
    constant ranks nothing, so its AUROC is 0.5 by definition (pooling folds' different constants
    would otherwise make one up).
    """
    target = "target_binary" if task == "binary" else "target"
    scores = pd.Series(np.nan, index=table.index)
    for fold, part in table.groupby("fold"):
        rest = table[table["fold"] != fold]
        train_y = (rest if len(rest) else part)[target].to_numpy(dtype=float)
        scores.loc[part.index] = majority_scores(train_y, len(part))
    out = label_metrics(table[target].to_numpy(dtype=float), scores.to_numpy(), task)
    return {**out, "auroc": 0.5} if "auroc" in out else out


def chance_metrics(y: np.ndarray) -> dict[str, float]:
    """Expected binary metrics of a fair coin on targets ``y``: accuracy, balanced accuracy and
    AUROC 0.5; macro-F1 from each class's F1 = p / (p + 0.5) at prevalence p."""
    p = float(np.mean(y)) if len(y) else 0.5
    return {"accuracy": 0.5, "balanced_accuracy": 0.5, "macro_f1": (p / (p + 0.5) + (1 - p) / (1.5 - p)) / 2,
            "auroc": 0.5}
