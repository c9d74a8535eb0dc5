"""Normalisation statistics fitted on training recordings only, and applied to every batch.

EEG amplitude differs a lot between people (skull, electrodes, gain), so EEG is z-scored per
subject and channel. The statistics come from the training side of the fold only; a subject never
seen in training (every test subject under LOSO) gets the pooled training statistics, so no test
data leaks into the scaling. Audio frame features and ECG per-beat features have units (Hz, dB,
bpm) and get per-feature z-scores; NaN (e.g. F0 of unvoiced frames) becomes 0 after scaling.
Video tokens are z-scored per token position and dimension: a frozen random or pretrained encoder
spreads a simple factor (face brightness) over a few low-variance dimensions that a per-token
LayerNorm would drown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusion.data import InputSpec, RecordingFeatures
from fusion.stream_kinds import stream_kind

EPS = 1e-6


def _mean_std(x: np.ndarray, axis: int | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """nan-aware mean and std; a feature with no finite value gets (0, 1)."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            m = np.nanmean(x, axis=axis)
            s = np.nanstd(x, axis=axis)
    m = np.where(np.isfinite(m), m, 0.0)
    s = np.where(np.isfinite(s) & (s > EPS), s, 1.0)
    return m.astype(np.float32), s.astype(np.float32)


@dataclass
class Normaliser:
    """Statistics for EEG (per subject), stream features and covariates. Saved in checkpoints."""

    eeg: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # subject -> (C,), (C,)
    eeg_pooled: tuple[np.ndarray, np.ndarray] | None = None
    feats: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    cov_names: tuple[str, ...] = ()
    cov: tuple[np.ndarray, np.ndarray] | None = None

    def eeg_stats(self, subject: str) -> tuple[np.ndarray, np.ndarray]:
        return self.eeg.get(subject, self.eeg_pooled)  # type: ignore[return-value]

    def apply_feat(self, name: str, key: str, x: np.ndarray) -> np.ndarray:
        stats = self.feats.get(name, {}).get(key)
        if stats is not None:
            x = (x - stats[0]) / stats[1]
        return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32, copy=False)

    def to_state(self) -> dict[str, Any]:
        def pair(p: tuple[np.ndarray, np.ndarray] | None) -> Any:
            return None if p is None else [p[0].tolist(), p[1].tolist()]

        return {"eeg": {k: pair(v) for k, v in self.eeg.items()}, "eeg_pooled": pair(self.eeg_pooled),
                "feats": {n: {k: pair(v) for k, v in d.items()} for n, d in self.feats.items()},
                "cov_names": list(self.cov_names), "cov": pair(self.cov)}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> "Normaliser":
        def pair(p: Any) -> tuple[np.ndarray, np.ndarray] | None:
            return None if p is None else (np.asarray(p[0], np.float32), np.asarray(p[1], np.float32))

        return cls(eeg={k: pair(v) for k, v in st["eeg"].items()}, eeg_pooled=pair(st["eeg_pooled"]),
                   feats={n: {k: pair(v) for k, v in d.items()} for n, d in st["feats"].items()},
                   cov_names=tuple(st["cov_names"]), cov=pair(st["cov"]))


def fit_normaliser(train: list[RecordingFeatures], inputs: list[InputSpec],
                   cov_names: tuple[str, ...]) -> Normaliser:
    """Fit every statistic on the training recordings of one fold."""
    norm = Normaliser(cov_names=cov_names)
    by_subj: dict[str, list[np.ndarray]] = {}
    for rf in train:
        by_subj.setdefault(rf.rec.subject, []).append(rf.eeg)
    for subj, sigs in by_subj.items():
        norm.eeg[subj] = _mean_std(np.concatenate(sigs, axis=1), axis=1)
    if norm.eeg:
        means = np.stack([m for m, _ in norm.eeg.values()])
        stds = np.stack([s for _, s in norm.eeg.values()])
        norm.eeg_pooled = (means.mean(0), np.sqrt((stds ** 2).mean(0)))
    for spec in inputs[1:]:
        kind = stream_kind(spec.kind, spec.name)
        arrays = [kind.model_arrays(rf.streams[spec.name].arrays) for rf in train if spec.name in rf.streams]
        if arrays:
            norm.feats[spec.name] = {key: _fit_array(np.concatenate([a[key] for a in arrays]), axis)
                                     for key, axis in kind.stat_axes.items()}
    if cov_names:
        cov = np.array([[rf.rec.covariates.get(c, np.nan) for c in cov_names] for rf in train], np.float64)
        norm.cov = _mean_std(cov, 0)
    return norm


def _fit_array(x: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Statistics of one array over items: per feature (axis 0) or one scalar over every value
    (None). float16 (cached video tokens) is widened first: its sums lose precision."""
    x = x.astype(np.promote_types(x.dtype, np.float32), copy=False)
    return _mean_std(x.reshape(-1), 0) if axis is None else _mean_std(x, axis)
