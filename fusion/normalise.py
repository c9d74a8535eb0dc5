"""Normalisation statistics fitted per fold, and applied to every batch.

EEG amplitude differs a lot between people (skull, electrodes, gain), so EEG is z-scored per
subject and channel. Where the EEG statistics come from is the run's ``normalise`` mode:

- ``train`` (default): from the training side of the fold only; a subject never seen in training
  (every test subject under LOSO) gets the pooled training statistics, so no test data leaks.
- ``subject``: every subject, test subjects included, is z-scored with its own statistics over
  all of its windows, labels unused. This is *transductive*: the test subject's unlabelled EEG is
  used before testing (as in calibration sessions), which removes per-person offsets and gains.
- ``baseline``: every recording relative to its own pre-trial baseline segment (an EEG stream of
  the recording with ``options.part: baseline``; DEAP's and DREAMER's container readers read that
  part, and docs/datasets.md shows the stream to add to the manifest),
  which removes offsets that drift between trials as well as between people.

Other streams keep training-side statistics in every mode. Audio frame features and ECG per-beat features have units (Hz, dB,
bpm) and get per-feature z-scores; NaN (e.g. F0 of unvoiced frames) becomes 0 after scaling.
Video tokens are z-scored per token position and dimension: a frozen random or pretrained encoder
spreads a simple factor (face brightness) over a few low-variance dimensions that a per-token
LayerNorm would drown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from fusion.data import InputSpec, RecordingFeatures
from fusion.stream_kinds import stream_kind
from pipeline.cache import FeatureCache
from pipeline.errors import ConfigError
from pipeline.manifest import Recording

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
    eeg_recording: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # baseline mode
    feats: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    cov_names: tuple[str, ...] = ()
    cov: tuple[np.ndarray, np.ndarray] | None = None

    def eeg_stats(self, subject: str) -> tuple[np.ndarray, np.ndarray]:
        return self.eeg.get(subject, self.eeg_pooled)  # type: ignore[return-value]

    def eeg_stats_for(self, rec: Recording) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) per channel for one recording: its baseline's, else its subject's, else pooled."""
        return self.eeg_recording.get(rec.id) or self.eeg_stats(rec.subject)

    def apply_eeg(self, rec: Recording, x: np.ndarray) -> np.ndarray:
        """EEG (C, T) of ``rec`` z-scored per channel."""
        mean, std = self.eeg_stats_for(rec)
        return (x - mean[:, None]) / std[:, None]

    def apply_feat(self, name: str, key: str, x: np.ndarray) -> np.ndarray:
        stats = self.feats.get(name, {}).get(key)
        if stats is not None:
            x = (x - stats[0]) / stats[1]
        return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32, copy=False)

    def to_state(self) -> dict[str, Any]:
        def pair(p: tuple[np.ndarray, np.ndarray] | None) -> Any:
            return None if p is None else [p[0].tolist(), p[1].tolist()]

        return {"eeg": {k: pair(v) for k, v in self.eeg.items()}, "eeg_pooled": pair(self.eeg_pooled),
                "eeg_recording": {k: pair(v) for k, v in self.eeg_recording.items()},
                "feats": {n: {k: pair(v) for k, v in d.items()} for n, d in self.feats.items()},
                "cov_names": list(self.cov_names), "cov": pair(self.cov)}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> "Normaliser":
        def pair(p: Any) -> tuple[np.ndarray, np.ndarray] | None:
            return None if p is None else (np.asarray(p[0], np.float32), np.asarray(p[1], np.float32))

        return cls(eeg={k: pair(v) for k, v in st["eeg"].items()}, eeg_pooled=pair(st["eeg_pooled"]),
                   eeg_recording={k: pair(v) for k, v in st.get("eeg_recording", {}).items()},
                   feats={n: {k: pair(v) for k, v in d.items()} for n, d in st["feats"].items()},
                   cov_names=tuple(st["cov_names"]), cov=pair(st["cov"]))


NORMALISE_MODES = ("train", "subject", "baseline")
BaselineReader = Callable[[Recording], "np.ndarray | None"]  # a recording's baseline EEG (C, N) or None


def fit_normaliser(train: list[RecordingFeatures], inputs: list[InputSpec], cov_names: tuple[str, ...],
                   mode: str = "train", every: list[RecordingFeatures] | None = None,
                   baseline: BaselineReader | None = None) -> Normaliser:
    """Fit every statistic of one fold: on its training recordings; with ``mode="subject"`` the EEG
    statistics of each subject in ``every`` (all recordings, labels unused); with ``"baseline"``
    each recording of ``every`` gets the statistics of ``baseline(rec)``."""
    if mode not in NORMALISE_MODES:
        raise ConfigError(f"normalise={mode!r} is not one of {list(NORMALISE_MODES)}.")
    norm = Normaliser(cov_names=cov_names)
    _fit_subjects(norm, train)
    if norm.eeg:
        means = np.stack([m for m, _ in norm.eeg.values()])
        stds = np.stack([s for _, s in norm.eeg.values()])
        norm.eeg_pooled = (means.mean(0), np.sqrt((stds ** 2).mean(0)))
    if mode == "subject":
        _fit_subjects(norm, every if every is not None else train)
    elif mode == "baseline":
        norm.eeg_recording = baseline_stats(every if every is not None else train, baseline)
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


def _fit_subjects(norm: Normaliser, recordings: list[RecordingFeatures]) -> None:
    """Per-subject, per-channel EEG statistics over all of each subject's samples in ``recordings``."""
    by_subj: dict[str, list[np.ndarray]] = {}
    for rf in recordings:
        by_subj.setdefault(rf.rec.subject, []).append(rf.eeg)
    for subj, sigs in by_subj.items():
        norm.eeg[subj] = _mean_std(np.concatenate(sigs, axis=1), axis=1)


def baseline_stats(recordings: list[RecordingFeatures],
                   baseline: BaselineReader | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Recording id -> per-channel (mean, std) of its baseline segment; a ConfigError naming every
    recording without one."""
    out, missing = {}, []
    for rf in recordings:
        seg = baseline(rf.rec) if baseline is not None else None
        if seg is None or seg.shape[-1] < 2:
            missing.append(rf.rec.id)
            continue
        out[rf.rec.id] = _mean_std(np.asarray(seg, np.float64), axis=1)
    if missing:
        raise ConfigError(f"normalise=baseline: {len(missing)} recording(s) have no pre-trial baseline EEG "
                          f"(e.g. {missing[:3]}). Add an EEG stream with 'options: {{part: baseline}}' to those "
                          "recordings in the manifest (DEAP and DREAMER containers hold one; docs/datasets.md shows "
                          "how), extract it with `cli extract eeg`, or use --normalise train or subject.")
    return out


def cache_baseline_reader(cache: Any, eeg_input: InputSpec) -> BaselineReader:
    """A ``BaselineReader`` over the cache: a recording's baseline is the entry, in the EEG group the
    run reads, of its EEG stream with ``options.part == "baseline"`` (None when it has no such stream).
    ``cache``: a ``pipeline.cache.FeatureCache`` or its location."""
    store = cache if isinstance(cache, FeatureCache) else FeatureCache(cache)
    memo: dict[str, np.ndarray | None] = {}

    def read(rec: Recording) -> np.ndarray | None:
        if rec.id not in memo:
            names = [s.name for s in rec.streams_of("eeg") if s.options.get("part") == "baseline"]
            memo[rec.id] = None if not names else np.asarray(
                store.read_entry(eeg_input.group.path, rec.id, names[0]).arrays["data"], np.float32).T
        return memo[rec.id]

    return read


def _fit_array(x: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Statistics of one array over items: per feature (axis 0) or one scalar over every value
    (None). float16 (cached video tokens) is widened first: its sums lose precision."""
    x = x.astype(np.promote_types(x.dtype, np.float32), copy=False)
    return _mean_std(x.reshape(-1), 0) if axis is None else _mean_std(x, axis)
