"""ECG beats: R-peak detection, heartbeat-centred windows, RR/HR, per-beat quality, HRV summary.

Plain functions on numpy arrays (no cache, no files), shared by users, the extractor and the
benchmark. Detection is NeuroKit2's (``ecg_clean`` + ``ecg_peaks``) followed by corrections that
NeuroKit2 does not make, all on zero-phase filtered signals so that no filter delay remains:

1. **Timing.** ``pantompkins1985`` returns the peak of a causal moving-window integral, 0-130 ms
   after the R wave. Each detection snaps to its QRS-energy peak (5-20 Hz band), and at the end to
   the R extremum of the 0.5-40 Hz signal with the record's dominant polarity (inverted leads work).
2. **Wrong wave.** A detection next to a stronger, unclaimed QRS moves there (NeuroKit2 locks onto
   tall P waves on MIT-BIH 108 and its 300 ms refractory period then hides the QRS).
3. **Impossible intervals.** Of two detections closer than 60/max_hr_bpm, the stronger stays; a
   much weaker one within 300 ms of a beat (a P or T wave) goes; so do stretches whose QRS energy
   never returns to a quiet baseline (ventricular flutter, continuous noise: no beats to time).
4. **Missed beats.** Pan & Tompkins' search-back on gaps much longer than the local RR, with their
   T-wave rule and a noise guard that keeps it out of ventricular flutter.

Measured on MIT-BIH DS1 by ``bench/ecg_mitdb.py`` (numbers in BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

_log = logging.getLogger(__name__)

MIN_SFREQ_HZ = 100.0
MIN_COVERAGE = 0.25  # fraction of the recording that beat-to-beat intervals must span
# NeuroKit2's cleaning method that goes with each peak method (its own pairing); others use "neurokit".
_CLEAN_FOR_METHOD = {"pantompkins1985": "pantompkins1985", "hamilton2002": "hamilton2002",
                     "elgendi2010": "elgendi2010", "engzeemod2012": "engzeemod2012", "neurokit": "neurokit"}
PEAK_METHODS = ("pantompkins1985", "neurokit", "hamilton2002", "elgendi2010", "engzeemod2012",
                "christov2004", "zong2003", "martinez2004", "nabian2018", "gamboa2008", "kalidas2017",
                "rodrigues2021", "emrich2023", "manikandan2012")


def bandpass(x: np.ndarray, fs: float, low_hz: float, high_hz: float, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-pass (forward-backward), so filtered peaks keep their time."""
    from scipy import signal as sps  # lazily: the extractor registry imports this module

    high_hz = min(high_hz, 0.45 * fs)
    sos = sps.butter(order, [low_hz, high_hz], btype="band", fs=fs, output="sos")
    return sps.sosfiltfilt(sos, x)


def signal_problem(x: np.ndarray, fs: float, method: str = "pantompkins1985",
                   min_duration_s: float = 2.0) -> str | None:
    """Why this signal cannot carry heartbeats (a sentence), or None when it looks usable.

    Checks what detection cannot repair: a sampling rate under 100 Hz (the QRS band reaches 40 Hz),
    a recording too short for two beats, over 20 % missing samples, a flat line, and saturation
    (over half the samples at the extreme values).
    Sparse NaNs are not a problem: ``detect_rpeaks`` interpolates over them.
    """
    if method not in PEAK_METHODS:  # a caller's mistake, not bad data
        raise ValueError(f"unknown R-peak method '{method}'. Known: {', '.join(PEAK_METHODS)}.")
    if not np.isfinite(fs) or fs < MIN_SFREQ_HZ:
        return f"sampling rate {fs:g} Hz is under {MIN_SFREQ_HZ:g} Hz, too low to locate R peaks"
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        return f"expected a 1-D signal, got shape {x.shape}"
    if x.size < min_duration_s * fs:
        return f"recording is {x.size / fs:.2f} s long, shorter than two beats ({min_duration_s:g} s)"
    finite = np.isfinite(x)
    if finite.mean() < 0.8:
        return f"{100 * (1 - finite.mean()):.0f} % of samples are NaN or infinite"
    v = x[finite]
    spread = np.percentile(v, 99) - np.percentile(v, 1)
    if not spread > 1e-9 * max(1.0, float(np.max(np.abs(v)))):
        return "flat line (no variation in the signal)"
    lo, hi = v.min(), v.max()
    at_rail = np.mean((v <= lo) | (v >= hi))
    if at_rail > 0.5:  # brief clipping is survivable; a lead stuck at the rails is not
        return f"saturated: {100 * at_rail:.0f} % of samples sit at the signal's extreme values"
    return None


def _fill_nans(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over non-finite samples (edges take the nearest finite value)."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return x
    x = x.copy()
    idx = np.arange(x.size)
    x[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    return x


def _candidates(x: np.ndarray, fs: float, method: str) -> np.ndarray:
    """NeuroKit2's own R-peak detections (cleaning paired with the method), as sample indices."""
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NeuroKit2 warns on short or odd signals; we judge those ourselves
        clean = nk.ecg_clean(x, sampling_rate=fs, method=_CLEAN_FOR_METHOD.get(method, "neurokit"))
        try:
            _, info = nk.ecg_peaks(clean, sampling_rate=fs, method=method)
        except (ValueError, IndexError, ZeroDivisionError) as e:  # NK fails on beat-less input
            _log.debug("neurokit2 ecg_peaks(%s) failed: %s", method, e)
            return np.zeros(0, dtype=np.int64)
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
    return np.unique(peaks[(peaks >= 0) & (peaks < x.size)])


def _qrs_envelope(x: np.ndarray, fs: float) -> np.ndarray:
    """QRS energy: zero-phase 5-20 Hz band, squared, centred 80 ms moving average."""
    from scipy import ndimage  # lazily: the extractor registry imports this module

    q = bandpass(x, fs, 5.0, 20.0)
    return ndimage.uniform_filter1d(q * q, max(int(0.08 * fs), 1))


def _window_argmax(cand: np.ndarray, env: np.ndarray, back: int, fwd: int) -> np.ndarray:
    """Index of the envelope maximum in [c - back, c + fwd] for every candidate (vectorised, in
    blocks so that a day-long recording does not build one huge (B, window) array)."""
    pad = np.pad(env, (back, fwd), mode="constant", constant_values=-np.inf)
    view = np.lib.stride_tricks.sliding_window_view(pad, back + fwd + 1)  # no copy
    arg = [view[cand[i:i + 8192]].argmax(axis=1) for i in range(0, cand.size, 8192)]  # (b, window) each
    return cand - back + (np.concatenate(arg) if arg else np.zeros(0, np.int64))


def _snap(cand: np.ndarray, env: np.ndarray, fs: float) -> np.ndarray:
    """Move each candidate to its QRS-energy peak in -250..+50 ms (NeuroKit2 trails the QRS by
    0-130 ms on MIT-BIH, up to 200 ms on 108). When two snap to the same peak (a premature beat
    after a larger one), the later takes its peak in -150..+30 ms instead of being lost."""
    if cand.size == 0:
        return cand
    wide = _window_argmax(cand, env, int(0.25 * fs), int(0.05 * fs))
    narrow = _window_argmax(cand, env, int(0.15 * fs), int(0.03 * fs))
    dup = np.zeros(cand.size, bool)
    dup[1:] = wide[1:] == wide[:-1]
    return np.unique(np.where(dup, narrow, wide))


def _recentre_weak(idx: np.ndarray, env: np.ndarray, radius: int, ratio: float, min_gap: int) -> np.ndarray:
    """Move a detection to a ``ratio`` times stronger QRS-energy peak within +-``radius`` samples
    that no other detection claims (NeuroKit2 locks onto tall P waves on MIT-BIH 108, 200 ms
    before the QRS, and its 300 ms refractory period then hides the QRS itself)."""
    if idx.size == 0:
        return idx
    best = _window_argmax(idx, env, radius, radius)  # (B,)
    move = env[best] >= ratio * env[idx]
    pos = np.searchsorted(idx, best)  # the target's neighbours among the detections
    prv, nxt, own = np.maximum(pos - 1, 0), np.minimum(pos, idx.size - 1), np.arange(idx.size)
    prev_free = (pos == 0) | (best - idx[prv] >= min_gap) | (prv == own)
    next_free = (pos == idx.size) | (idx[nxt] - best >= min_gap) | (nxt == own)
    return np.unique(np.where(move & prev_free & next_free, best, idx))


def _drop_close(idx: np.ndarray, env: np.ndarray, min_gap: int) -> np.ndarray:
    """Of two detections closer than ``min_gap`` samples keep the one with more QRS energy."""
    if idx.size < 2:
        return idx
    keep = [int(idx[0])]
    for i in idx[1:]:
        if i - keep[-1] >= min_gap:
            keep.append(int(i))
        elif env[i] > env[keep[-1]]:
            keep[-1] = int(i)
    return np.asarray(keep, dtype=np.int64)


def _drop_shadowed(idx: np.ndarray, env: np.ndarray, dist: int, ratio: float) -> np.ndarray:
    """Drop a detection within ``dist`` samples of a neighbour with over 1/``ratio`` times its QRS
    energy: a P or T wave (or noise) beside a beat that is already detected."""
    if idx.size < 2 or ratio <= 0:
        return idx
    e, close = env[idx], np.diff(idx) < dist
    weak = np.zeros(idx.size, bool)
    weak[1:] |= close & (e[1:] < ratio * e[:-1])  # weaker than the previous detection
    weak[:-1] |= close & (e[:-1] < ratio * e[1:])  # weaker than the next one
    return idx[~weak]


def _drop_flutter(idx: np.ndarray, env: np.ndarray, ratio: float, peak_ratio: float, run: int = 7) -> np.ndarray:
    """Drop stretches of weak detections whose QRS energy never returns to a quiet baseline.

    Per interval, the median energy between two detections over the weaker one's peak; where its
    running median over ``run`` beats exceeds ``ratio`` (MIT-BIH 207's flutter: median 0.49; normal
    and ventricular beats: under 0.1) and the running median peak is under ``peak_ratio`` of the
    record's median, this is ventricular flutter/fibrillation, with no discrete beats to time. The
    peak term spares beats buried in noise: their QRS stays as strong as elsewhere.
    """
    from scipy import ndimage  # lazily: the extractor registry imports this module

    if idx.size < run or ratio <= 0:
        return idx
    peak = env[idx]
    frac = np.linspace(0.0, 1.0, 34)[1:-1]  # 32 evenly spaced points inside each interval
    pos = (idx[:-1, None] + np.diff(idx)[:, None] * frac[None, :]).astype(np.int64)  # (B-1, 32)
    between = np.median(env[pos], axis=1)  # (B-1,)
    q = between / np.maximum(np.minimum(peak[:-1], peak[1:]), np.finfo(float).tiny)
    per_beat = np.concatenate([q[:1], np.maximum(q[:-1], q[1:]), q[-1:]])  # (B,) busier side
    busy = ndimage.median_filter(per_beat, size=run, mode="mirror") > ratio
    weak = ndimage.median_filter(peak, size=run, mode="mirror") < peak_ratio * np.median(peak)
    return idx[~(busy & weak)]


def _search_back(idx: np.ndarray, env: np.ndarray, min_gap: int, gap_factor: float,
                 amp_ratio: float, snr: float, t_wave: int) -> np.ndarray:
    """Pan & Tompkins' search-back: in every gap over ``gap_factor`` x local RR, add the strongest
    QRS-energy peak ``min_gap`` from both neighbours with ``amp_ratio`` of their local median
    energy and ``snr`` times the gap's median (not in flutter); within ``t_wave`` samples of the
    previous beat and under half its energy it is that beat's T wave (their rule)."""
    from scipy import ndimage  # lazily: the extractor registry imports this module

    if idx.size < 4:
        return idx
    rr = np.diff(idx)
    local_rr = ndimage.median_filter(rr, size=17, mode="nearest")
    local_amp = ndimage.median_filter(env[idx], size=17, mode="nearest")
    added = []
    for j in np.nonzero(rr > gap_factor * local_rr)[0]:
        a, b = idx[j] + min_gap, idx[j + 1] - min_gap
        if b <= a:
            continue
        seg = env[a:b]
        k = int(seg.argmax())
        c = a + k
        if not (0 < k < seg.size - 1 and seg[k] >= amp_ratio * min(local_amp[j], local_amp[j + 1])):
            continue
        if seg[k] < snr * np.median(seg):  # no quiet baseline around it: flutter or noise, not a pause
            continue
        if c - idx[j] < t_wave and env[c] < 0.5 * env[idx[j]]:
            continue
        added.append(c)
    return np.union1d(idx, np.asarray(added, dtype=np.int64)) if added else idx


def _to_extremum(idx: np.ndarray, fine: np.ndarray, half: int, flip_ratio: float) -> np.ndarray:
    """R extremum within +-half samples in the lightly filtered signal, polarity-aware.

    The record's polarity is the sign that dominates the beats' (max + min); a beat takes the
    opposite extremum only when it is ``flip_ratio`` times larger (e.g. an inverted ectopic beat).
    """
    if idx.size == 0:
        return idx
    pad = np.pad(fine, (half, half), mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1)[idx]  # (B, 2*half+1)
    polarity = 1.0 if np.median(win.max(axis=1) + win.min(axis=1)) >= 0 else -1.0
    win = win * polarity
    i_main, i_other = win.argmax(axis=1), win.argmin(axis=1)
    rows = np.arange(idx.size)
    flip = -win[rows, i_other] > flip_ratio * win[rows, i_main]
    return np.unique(idx - half + np.where(flip, i_other, i_main))


@dataclass(frozen=True)
class RefineSettings:
    """Constants of the corrections after NeuroKit2: one setting for every record, chosen on
    MIT-BIH DS1 as a whole (``bench/ecg_mitdb.py``; no held-out set, so its numbers are optimistic)."""

    recentre_radius_s: float = 0.3  # move a detection to a QRS-energy peak this close ...
    recentre_ratio: float = 1.2  # ... and this many times stronger, if no detection claims it
    shadow_s: float = 0.3  # drop a detection this close to one ...
    shadow_ratio: float = 0.33  # ... when it has under this fraction of that one's energy
    flutter_ratio: float = 0.35  # inter-beat / peak energy above which a stretch has no baseline (0: off)
    flutter_peak_ratio: float = 0.5  # ... and its peaks under this fraction of the record's median
    search_back: bool = True
    search_back_gap: float = 1.4  # search gaps longer than this many local RR intervals ...
    search_back_ratio: float = 0.1  # ... for a peak with this fraction of the neighbours' energy ...
    search_back_snr: float = 5.0  # ... and this many times the gap's median energy
    extremum_half_s: float = 0.06  # half-width of the R-extremum search around the QRS-energy peak
    flip_ratio: float = 2.0  # take the opposite-polarity extremum when this many times larger


def detect_rpeaks(signal: np.ndarray, fs: float, method: str = "pantompkins1985", *,
                  max_hr_bpm: float = 300.0, settings: RefineSettings | None = None) -> np.ndarray:
    """R-peak sample indices (sorted, int64) of a single-lead ECG.

    ``signal``: (N,) samples in any unit; ``fs``: sampling rate in Hz (>= 100); ``method``: a
    NeuroKit2 ``ecg_peaks`` method. ``max_hr_bpm`` sets the shortest plausible RR interval.
    Raises ``ValueError`` naming the problem when the signal is unusable (see ``signal_problem``);
    returns an empty array when no beat is found.
    """
    problem = signal_problem(signal, fs, method)
    if problem:
        raise ValueError(problem)
    return _refined_peaks(_fill_nans(np.asarray(signal, dtype=np.float64)), fs, method, max_hr_bpm,
                          settings or RefineSettings())[0]


def _refined_peaks(x: np.ndarray, fs: float, method: str, max_hr_bpm: float,
                   s: RefineSettings) -> tuple[np.ndarray, np.ndarray]:
    """(R-peak indices, 0.5-40 Hz filtered signal) of a checked, NaN-free signal."""
    fine = bandpass(x, fs, 0.5, 40.0)
    cand = _candidates(x, fs, method)
    if cand.size == 0:
        return cand, fine
    env = _qrs_envelope(x, fs)
    min_gap = int(round(60.0 / max_hr_bpm * fs))
    idx = _snap(cand, env, fs)
    idx = _recentre_weak(idx, env, int(s.recentre_radius_s * fs), s.recentre_ratio, min_gap)
    idx = _drop_close(idx, env, min_gap)
    idx = _drop_shadowed(idx, env, int(s.shadow_s * fs), s.shadow_ratio)
    idx = _drop_flutter(idx, env, s.flutter_ratio, s.flutter_peak_ratio)
    if s.search_back:
        idx = _search_back(idx, env, min_gap, s.search_back_gap, s.search_back_ratio,
                           s.search_back_snr, int(0.36 * fs))
    idx = _to_extremum(idx, fine, int(s.extremum_half_s * fs), s.flip_ratio)
    idx = _drop_close(idx, env, min_gap)
    edge = int(s.extremum_half_s * fs)  # an R peak whose extremum search runs off the signal is unreliable
    return idx[(idx >= edge) & (idx < x.size - edge)], fine


# ---------------------------------------------------------------- beats


@dataclass(frozen=True)
class BeatSet:
    """Heartbeats of one lead. ``B`` beats, windows of ``L`` samples; empty with a ``reason``.

    ``rpeaks``: (B,) sample indices; ``times_s``: (B,) R-peak times in seconds from the signal's
    first sample; ``windows``: (B, L) float32, the 0.5-40 Hz filtered signal from ``pre_s`` before
    to ``post_s`` after each R peak, linearly resampled to L points; ``rr_s``: (B,) interval to the
    previous R peak (the first beat takes the interval after it); ``hr_bpm``: 60 / rr_s;
    ``quality``: (B,) Pearson correlation of each window with the mean window (NeuroKit2's
    ``templatematch``, Orphanidou 2015); ``summary``: mean_hr_bpm, sdnn_ms, rmssd_ms.
    """

    rpeaks: np.ndarray
    times_s: np.ndarray
    windows: np.ndarray
    rr_s: np.ndarray
    hr_bpm: np.ndarray
    quality: np.ndarray
    summary: dict[str, float] = field(default_factory=dict)
    reason: str | None = None

    @classmethod
    def empty(cls, length: int, reason: str) -> "BeatSet":
        z = np.zeros(0, np.float32)
        return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros((0, length), np.float32), z, z, z,
                   hrv_summary(np.zeros(0), 25.0, 300.0), reason)


def beat_windows(x: np.ndarray, fs: float, rpeaks: np.ndarray, pre_s: float, post_s: float,
                 length: int) -> np.ndarray:
    """(B, length) float32 windows from R - pre_s to R + post_s, linearly resampled (vectorised).

    Every R peak must have its whole window inside ``x`` (``extract_beats`` drops the others).
    """
    offsets = np.linspace(-pre_s * fs, post_s * fs, length)  # (L,) in samples
    pos = rpeaks[:, None].astype(np.float64) + offsets[None, :]  # (B, L)
    return np.interp(pos.ravel(), np.arange(x.size), x).reshape(pos.shape).astype(np.float32)


def template_correlation(windows: np.ndarray) -> np.ndarray:
    """(B,) Pearson r of each beat window with their mean (NeuroKit2's templatematch quality)."""
    if windows.shape[0] == 0:
        return np.zeros(0, np.float32)
    w = windows.astype(np.float64)
    w = w - w.mean(axis=1, keepdims=True)
    t = w.mean(axis=0)
    den = np.linalg.norm(w, axis=1) * np.linalg.norm(t)
    r = np.divide(w @ t, den, out=np.zeros(w.shape[0]), where=den > 0)
    return r.astype(np.float32)


def hrv_summary(rr_s: np.ndarray, min_hr_bpm: float, max_hr_bpm: float) -> dict[str, float]:
    """Mean HR (bpm), SDNN and RMSSD (ms) of the NN intervals: the RR intervals (consecutive, in s)
    within the plausible HR range, since one spanning a signal gap or a missed beat would dominate
    SDNN. RMSSD takes only differences of intervals that were adjacent in ``rr_s``: two intervals on
    either side of a dropped one were never successive. Same numbers as NeuroKit2's ``hrv_time`` on
    the intervals with the dropped ones marked missing, without its 10 ms adjacency tolerance."""
    rr_s = np.asarray(rr_s, dtype=np.float64)
    keep = (rr_s >= 60.0 / max_hr_bpm) & (rr_s <= 60.0 / min_hr_bpm)
    rr, successive = rr_s[keep], np.diff(rr_s)[keep[1:] & keep[:-1]]
    if rr.size < 2:
        return {"mean_hr_bpm": float("nan"), "sdnn_ms": float("nan"), "rmssd_ms": float("nan")}
    rmssd = float(1000 * np.sqrt(np.mean(successive ** 2))) if successive.size else float("nan")
    return {"mean_hr_bpm": float(60.0 / rr.mean()), "sdnn_ms": float(1000 * rr.std(ddof=1)), "rmssd_ms": rmssd}


def extract_beats(signal: np.ndarray, fs: float, method: str = "pantompkins1985", *, pre_s: float = 0.25,
                  post_s: float = 0.45, length: int = 128, min_hr_bpm: float = 25.0,
                  max_hr_bpm: float = 300.0, min_median_quality: float = 0.5) -> BeatSet:
    """Detect R peaks and build the beat set of one lead; bad input gives an empty set + reason.

    Empty (never an exception) for: a signal ``signal_problem`` rejects, fewer than two beats,
    beats spanning under ``MIN_COVERAGE`` of the recording, or beats that do not resemble each other (median template correlation < ``min_median_quality``:
    noise, or a lead without ECG). Beats whose window runs past either end are dropped.
    """
    problem = signal_problem(signal, fs, method)
    if problem:
        return BeatSet.empty(length, problem)
    rpeaks, x = _refined_peaks(_fill_nans(np.asarray(signal, dtype=np.float64)), fs, method, max_hr_bpm,
                               RefineSettings())
    if rpeaks.size < 2:
        return BeatSet.empty(length, f"fewer than two heartbeats found ({rpeaks.size})")
    rr_all = np.diff(rpeaks) / fs
    covered = float(rr_all[rr_all <= 60.0 / min_hr_bpm].sum()) / (x.size / fs)
    if covered < MIN_COVERAGE:
        return BeatSet.empty(length, f"heartbeats span only {100 * covered:.0f} % of the recording "
                                     f"(noise, or a lead without ECG)")
    rr = np.concatenate([rr_all[:1], rr_all])  # (B,) interval before each beat
    keep = (rpeaks - pre_s * fs >= 0) & (rpeaks + post_s * fs <= x.size - 1)  # whole window inside
    if keep.sum() < 2:
        return BeatSet.empty(length, "fewer than two heartbeats with a complete window")
    windows = beat_windows(x, fs, rpeaks[keep], pre_s, post_s, length)
    quality = template_correlation(windows)
    med_q = float(np.median(quality))
    if med_q < min_median_quality:
        return BeatSet.empty(length, f"no consistent heartbeat: median beat-template correlation {med_q:.2f} "
                                     f"< {min_median_quality:g} (noise, or a lead without ECG)")
    rr_k = rr[keep].astype(np.float32)
    return BeatSet(rpeaks=rpeaks[keep], times_s=rpeaks[keep] / fs, windows=windows, rr_s=rr_k,
                   hr_bpm=(60.0 / rr_k).astype(np.float32), quality=quality,
                   summary=hrv_summary(rr_all, min_hr_bpm, max_hr_bpm))
