"""Speech/pause detection, pause statistics and per-segment functionals for the audio stage.

Why here and not in the extractor: these are plain array functions a user can call on their own
frames, and the segment rules (shared with the video stage: fixed ``segment_s`` segments on the
recording clock) are easier to test without files.
"""

from __future__ import annotations

import numpy as np

ABS_SPEECH_FLOOR_DB = -60.0   # frames quieter than this (dBFS) are never speech unless voiced
FUNCTIONALS = ("mean", "std", "p20", "p50", "p80")
PAUSE_NAMES = ("pause_count", "pause_mean_s", "voiced_segment_rate_hz")


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in a 1-D boolean mask."""
    m = np.r_[False, np.asarray(mask, dtype=bool), False]
    edges = np.flatnonzero(m[1:] != m[:-1])
    return edges[0::2], edges[1::2]


def speech_mask(rms_db: np.ndarray, voiced: np.ndarray, hop_s: float, range_db: float = 35.0,
                min_pause_s: float = 0.15, min_speech_s: float = 0.05) -> np.ndarray:
    """Speech (True) / pause (False) per frame.

    A frame is speech when voiced, or when its RMS level is above a threshold: within
    ``range_db`` of the recording's loud level (99th percentile), at least 10 dB above its noise
    floor (10th percentile) unless that would put it within 15 dB of the loud level, and above
    -60 dBFS. Pauses shorter than ``min_pause_s`` between speech are filled (stop closures are
    not pauses); unvoiced speech bursts shorter than ``min_speech_s`` are dropped (clicks).
    """
    F = len(rms_db)
    if F == 0:
        return np.zeros(0, dtype=bool)
    peak, noise = np.percentile(rms_db, 99), np.percentile(rms_db, 10)
    thr = max(peak - range_db, min(noise + 10.0, peak - 15.0), ABS_SPEECH_FLOOR_DB)
    speech = (rms_db > thr) | voiced
    starts, ends = runs(speech)
    for s, e in zip(starts, ends):
        if (e - s) * hop_s < min_speech_s and not voiced[s:e].any():
            speech[s:e] = False
    starts, ends = runs(~speech)
    for s, e in zip(starts, ends):
        if s > 0 and e < F and (e - s) * hop_s < min_pause_s:
            speech[s:e] = True
    return speech


def segment_intervals(offset_s: float, duration_s: float, segment_s: float) -> np.ndarray:
    """(S, 2) ``[start, end)`` segments on the recording clock: the fixed grid ``k * segment_s``
    (the video stage's), clipped to the stream's span ``[offset_s, offset_s + duration_s)``.
    A stream that starts or ends mid-segment gives a shorter first or last segment with its true
    interval."""
    end = offset_s + duration_s
    if duration_s <= 0:
        return np.zeros((0, 2))
    k0, k1 = int(np.floor(offset_s / segment_s + 1e-9)), int(np.ceil(end / segment_s - 1e-9))
    ks = np.arange(k0, max(k1, k0 + 1))
    iv = np.stack([np.maximum(ks * segment_s, offset_s), np.minimum((ks + 1) * segment_s, end)], axis=1)
    return iv[iv[:, 1] > iv[:, 0] + 1e-9]


def pause_stats(speech: np.ndarray, voiced: np.ndarray, lo: int, hi: int, hop_s: float,
                min_pause_s: float) -> tuple[float, float, float]:
    """Pause count, mean pause length (s) and voiced-segment rate (onsets per second) over
    frames ``[lo, hi)``. A pause is a run of non-speech frames at least ``min_pause_s`` long
    (judged on the whole run); its length is counted inside the window only. The voiced-segment
    rate counts voiced runs starting in the window, a syllable-rate proxy."""
    if hi <= lo:
        return 0.0, 0.0, 0.0
    ps, pe = runs(~speech)
    keep = ((pe - ps) * hop_s >= min_pause_s) & (pe > lo) & (ps < hi)
    lengths = (np.minimum(pe[keep], hi) - np.maximum(ps[keep], lo)) * hop_s
    vs, _ = runs(voiced)
    onsets = np.count_nonzero((vs >= lo) & (vs < hi))
    count = float(len(lengths))
    return count, float(lengths.mean()) if count else 0.0, onsets / ((hi - lo) * hop_s)


def _functionals(x: np.ndarray) -> np.ndarray:
    """(K,) -> (5K,) per column mean, std, p20, p50, p80, grouped by column; zeros if no rows."""
    if len(x) == 0:
        return np.zeros(x.shape[1] * len(FUNCTIONALS))
    stats = np.stack([x.mean(axis=0), x.std(axis=0), *np.percentile(x, [20, 50, 80], axis=0)], axis=1)
    return stats.reshape(-1)


def segment_features(times_s: np.ndarray, frames: np.ndarray, names: list[str], voiced_only: set[str],
                     speech: np.ndarray, voiced: np.ndarray, intervals: np.ndarray, hop_s: float,
                     min_pause_s: float) -> tuple[np.ndarray, list[str]]:
    """Per-segment functionals of frame features plus pause statistics.

    Features named in ``voiced_only`` (F0, jitter, shimmer, HNR, ...) are summarised over the
    segment's voiced frames only (eGeMAPS practice; 0 when it has none), the others over all of
    its frames. Returns ``(S, 5 * K + 3)`` and the column names ``<feature>_<functional>`` then
    ``PAUSE_NAMES``.
    """
    vo = np.array([n in voiced_only for n in names])
    out = np.zeros((len(intervals), len(names) * len(FUNCTIONALS) + len(PAUSE_NAMES)))
    lo_idx = np.searchsorted(times_s, intervals[:, 0] - 1e-9, side="left")
    hi_idx = np.searchsorted(times_s, intervals[:, 1] - 1e-9, side="left")
    for i, (lo, hi) in enumerate(zip(lo_idx, hi_idx)):
        seg, v = frames[lo:hi], voiced[lo:hi]
        all_f = _functionals(seg).reshape(len(names), -1)
        voiced_f = _functionals(seg[v]).reshape(len(names), -1)
        out[i, :-len(PAUSE_NAMES)] = np.where(vo[:, None], voiced_f, all_f).reshape(-1)
        out[i, -len(PAUSE_NAMES):] = pause_stats(speech, voiced, lo, hi, hop_s, min_pause_s)
    col_names = [f"{n}_{f}" for n in names for f in FUNCTIONALS] + list(PAUSE_NAMES)
    return out, col_names
