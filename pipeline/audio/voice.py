"""Pitch, voicing and voice quality of a mono signal on a fixed frame grid.

Why Praat (through ``praat-parselmouth``): its autocorrelation tracker with Viterbi path finding
meets both accuracy targets on laryngograph-referenced speech (Keele, FDA) at about 150-200x
real time, where ``librosa.pyin`` at defaults is less accurate and about 10x real time (see
``bench/audio_pitch.py``). Praat computes: F0, the voicing candidates' strengths (voicing
probability, HNR) and the glottal pulses (jitter, shimmer). Numpy computes everything derived.

Frame convention shared by every audio feature (``pipeline.audio.grid``): frame ``k`` is centred
at ``k * hop_s`` seconds from the first sample, ``floor((N - 1) / (sr * hop_s)) + 1`` frames;
windows that reach past either end see zeros. Any rate >= 8 kHz works: where ``hop_s`` is not a
whole number of samples (22,050 Hz at 10 ms) the signal is resampled to the nearest rate above
where it is. The Praat analysis is padded so its frames fall exactly on this grid, so no feature
is interpolated in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import parselmouth  # imported here, not lazily: concurrent first imports from Dask threads race
from parselmouth.praat import call

from pipeline.audio.activity import speech_mask
from pipeline.audio.grid import AnalysisSignal, praat_padding, to_analysis_rate
from pipeline.audio.spectral import SPECTRAL_NAMES, spectral_features

SEMITONE_REF_HZ = 27.5           # eGeMAPS: F0 semitones relative to 27.5 Hz (A0)
PERIOD_MAX_FACTOR = 1.3          # Praat's jitter rule: consecutive periods differing more are skipped
AMPLITUDE_MAX_FACTOR = 1.6       # Praat's shimmer rule for consecutive amplitudes
MIN_PERIOD_S = 1e-4


@dataclass(frozen=True)
class PitchSettings:
    """Praat ``To Pitch (ac)`` parameters. Defaults were chosen once on Keele + FDA (one setting
    for all files): a 60 Hz floor keeps low male voices (Praat's 75 Hz default loses ~10 % of one
    Keele speaker's voiced frames), octave cost 0.03 (default 0.01) removes most octave jumps, a
    0.42 voicing threshold (default 0.45) trades a little GPE for fewer missed voiced frames."""

    floor_hz: float = 60.0
    ceiling_hz: float = 600.0
    voicing_threshold: float = 0.42
    silence_threshold: float = 0.03
    octave_cost: float = 0.03
    octave_jump_cost: float = 0.35
    voiced_unvoiced_cost: float = 0.14
    max_candidates: int = 15


@dataclass(frozen=True)
class PitchTrack:
    """Per-frame pitch analysis on the grid ``times_s = k * hop_s`` (signal clock, seconds).

    ``f0_hz`` is 0 where unvoiced; ``voicing_prob`` is the strongest voiced candidate's
    normalised autocorrelation in [0, 1]; ``strength`` is the selected candidate's (the ACF peak
    ``r`` behind HNR); ``pulses_s`` are Praat's glottal pulse times (cross-correlation method).
    """

    times_s: np.ndarray
    f0_hz: np.ndarray
    voiced: np.ndarray
    voicing_prob: np.ndarray
    strength: np.ndarray
    pulses_s: np.ndarray


def _praat_sound(sig: AnalysisSignal, window_s: float):
    """``sig`` zero-padded (``grid.praat_padding``) as a Praat Sound whose analysis frames are
    exactly the grid's ``sig.n_frames`` frames, frame 0 at time 0."""
    L = praat_padding(window_s * sig.sr)
    nx = 2 * L + 1 + (sig.n_frames - 1) * sig.hop
    padded = np.zeros(nx)
    keep = min(len(sig.y), nx - L)  # samples past the last frame's window cannot change any frame
    padded[L:L + keep] = sig.y[:keep]
    return parselmouth.Sound(padded, sampling_frequency=sig.sr, start_time=-(L + 0.5) / sig.sr)


def analyse_pitch(y: np.ndarray, sr: int, hop_s: float = 0.01, settings: PitchSettings = PitchSettings()) -> PitchTrack:
    """Run Praat's autocorrelation tracker and pulse finder on ``y`` (mono, any rate >= 8 kHz)."""
    return _analyse(to_analysis_rate(y, sr, hop_s), settings)


def _analyse(sig: AnalysisSignal, settings: PitchSettings) -> PitchTrack:
    """``analyse_pitch`` on a signal already at its analysis rate."""
    F = sig.n_frames
    if F == 0:
        empty = np.zeros(0)
        return PitchTrack(empty, empty, empty.astype(bool), empty, empty, empty)
    sound = _praat_sound(sig, 3.0 / settings.floor_hz)
    pitch = sound.to_pitch_ac(time_step=sig.hop / sig.sr, pitch_floor=settings.floor_hz,
                              max_number_of_candidates=settings.max_candidates,
                              silence_threshold=settings.silence_threshold,
                              voicing_threshold=settings.voicing_threshold, octave_cost=settings.octave_cost,
                              octave_jump_cost=settings.octave_jump_cost,
                              voiced_unvoiced_cost=settings.voiced_unvoiced_cost, pitch_ceiling=settings.ceiling_hz)
    if pitch.get_number_of_frames() != F or abs(pitch.xs()[0]) > 1e-9:  # a bug in grid.praat_padding, not bad input
        raise RuntimeError(f"Praat frame grid mismatch: {pitch.get_number_of_frames()} frames from {pitch.xs()[0]} s "
                           f"(expected {F} from 0 s at {sig.sr} Hz); please report it")
    selected = pitch.selected_array
    f0 = np.nan_to_num(selected["frequency"], nan=0.0)
    voiced = f0 > 0
    f0 = np.where(voiced, f0, 0.0)
    cands = pitch.to_array()  # (candidates, F) with fields frequency, strength
    voiced_strength = np.where(cands["frequency"] > 0, cands["strength"], 0.0)
    prob = np.clip(np.nan_to_num(voiced_strength.max(axis=0)), 0.0, 1.0)
    strength = np.clip(np.nan_to_num(selected["strength"]), 0.0, 1.0)
    pulses = np.zeros(0)
    if voiced.any():
        point_process = call([sound, pitch], "To PointProcess (cc)")
        if call(point_process, "Get number of points") > 0:
            pulses = np.asarray(call(point_process, "To Matrix").values[0], dtype=np.float64)
    return PitchTrack(sig.times_s, f0, voiced, prob, np.where(voiced, strength, 0.0), pulses)


def track_pitch(y: np.ndarray, sr: int, hop_s: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F0 of a mono signal at any rate >= 8 kHz: frame-centre times ``k * hop_s`` (s, from the
    first sample), F0 (Hz, 0 where unvoiced) and the voiced flag, each of shape (F,) with
    ``F = grid.frame_count(len(y), sr, hop_s)``. The tracker the audio extractor uses, with its
    default settings (``PitchSettings()``)."""
    track = analyse_pitch(np.asarray(y, dtype=np.float64), sr, hop_s)
    return track.times_s, track.f0_hz, track.voiced


def semitones(f0_hz: np.ndarray) -> np.ndarray:
    """F0 in semitones re 27.5 Hz (eGeMAPS ``F0semitoneFrom27.5Hz``); 0 where F0 is 0."""
    out = np.zeros_like(f0_hz, dtype=np.float64)
    v = f0_hz > 0
    out[v] = 12.0 * np.log2(f0_hz[v] / SEMITONE_REF_HZ)
    return out


def f0_delta(st: np.ndarray, voiced: np.ndarray, hop_s: float) -> np.ndarray:
    """F0 slope in semitones per second: central difference inside voiced runs, one-sided at a
    run's ends, 0 for unvoiced and isolated voiced frames (no slope across a pause)."""
    d = np.zeros_like(st)
    if len(st) < 2:
        return d
    prev_ok = np.r_[False, voiced[:-1]] & voiced
    next_ok = np.r_[voiced[1:], False] & voiced
    st_prev, st_next = np.r_[st[:1], st[:-1]], np.r_[st[1:], st[-1:]]
    both = prev_ok & next_ok
    d[both] = (st_next[both] - st_prev[both]) / (2 * hop_s)
    only_next, only_prev = next_ok & ~prev_ok, prev_ok & ~next_ok
    d[only_next] = (st_next[only_next] - st[only_next]) / hop_s
    d[only_prev] = (st[only_prev] - st_prev[only_prev]) / hop_s
    return d


def hnr_db(strength: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Harmonics-to-noise ratio from the ACF peak r: 10 log10(r / (1 - r)) (Praat's Harmonicity
    (ac) formula, eGeMAPS ``HNRdBACF``), r clipped to [1e-4, 1 - 1e-4] so it stays within
    +-40 dB; 0 on unvoiced frames."""
    r = np.clip(strength, 1e-4, 1 - 1e-4)
    return np.where(voiced, 10.0 * np.log10(r / (1.0 - r)), 0.0)


def _window_mean(event_t: np.ndarray, values: np.ndarray, valid: np.ndarray, centres: np.ndarray,
                 half: float) -> np.ndarray:
    """Mean of the valid ``values`` whose (sorted) times fall in [c - half, c + half), per centre;
    0 where none is valid."""
    vsum = np.r_[0.0, np.cumsum(np.where(valid, values, 0.0))]
    vcnt = np.r_[0.0, np.cumsum(valid.astype(np.float64))]
    lo = np.searchsorted(event_t, centres - half, side="left")
    hi = np.searchsorted(event_t, centres + half, side="left")
    cnt = vcnt[hi] - vcnt[lo]
    return np.divide(vsum[hi] - vsum[lo], cnt, out=np.zeros(len(centres)), where=cnt > 0)


def pulse_amplitudes(y: np.ndarray, sr: int, pulses_s: np.ndarray) -> np.ndarray:
    """Peak |y| around each pulse, between the midpoints to its neighbours (robust to where in
    the cycle the pulse mark sits)."""
    if len(pulses_s) == 0:
        return np.zeros(0)
    mids = (pulses_s[:-1] + pulses_s[1:]) / 2
    first = pulses_s[0] - (mids[0] - pulses_s[0] if len(mids) else 0.005)
    bounds = np.clip(np.round(np.r_[first, mids] * sr).astype(np.int64), 0, max(len(y) - 1, 0))
    bounds = np.maximum.accumulate(bounds)
    return np.maximum.reduceat(np.abs(y), bounds) if len(y) else np.zeros(len(pulses_s))


def jitter_shimmer(y: np.ndarray, sr: int, track: PitchTrack, window_s: float = 0.06,
                   period_ceiling_s: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Local jitter and local shimmer (fractions, Praat/eGeMAPS definitions) per frame.

    Over the glottal periods whose centre falls within ``window_s`` around the frame:
    jitter = mean |T_i - T_(i-1)| / mean T_i, shimmer = mean |A_i - A_(i-1)| / mean A_i, with
    Praat's rules (periods in [0.1 ms, period_ceiling_s], consecutive periods within a factor
    1.3, amplitudes within 1.6). 0 on unvoiced frames and where fewer than 3 pulses are in reach.
    """
    F = len(track.times_s)
    jit, shim = np.zeros(F), np.zeros(F)
    p = track.pulses_s
    if len(p) < 3:
        return jit, shim
    half, c = window_s / 2, track.times_s
    T = np.diff(p)                                   # (M-1,) periods
    ok_T = (T >= MIN_PERIOD_S) & (T <= period_ceiling_s)
    t_mid = (p[:-1] + p[1:]) / 2                     # period centres
    ratio = np.maximum(T[1:], T[:-1]) / np.maximum(np.minimum(T[1:], T[:-1]), MIN_PERIOD_S)
    ok_pair = ok_T[1:] & ok_T[:-1] & (ratio <= PERIOD_MAX_FACTOR)
    mean_dT = _window_mean(p[1:-1], np.abs(np.diff(T)), ok_pair, c, half)
    mean_T = _window_mean(t_mid, T, ok_T, c, half)
    good = track.voiced & (mean_T > 0)
    jit[good] = mean_dT[good] / mean_T[good]

    A = pulse_amplitudes(y, sr, p)                   # (M,) peak amplitude per pulse
    a_ratio = np.maximum(A[1:], A[:-1]) / np.maximum(np.minimum(A[1:], A[:-1]), 1e-12)
    ok_a = ok_T & (a_ratio <= AMPLITUDE_MAX_FACTOR) & (A[1:] > 0) & (A[:-1] > 0)
    mean_dA = _window_mean(t_mid, np.abs(np.diff(A)), ok_a, c, half)
    mean_A = _window_mean(p, A, A > 0, c, half)
    good = track.voiced & (mean_A > 0)
    shim[good] = mean_dA[good] / mean_A[good]
    return jit, shim


FRAME_NAMES = ("f0_hz", "f0_st", "voicing_prob", "voiced", "f0_delta_st_per_s", "jitter_local", "shimmer_local",
               "hnr_db") + SPECTRAL_NAMES + ("speech",)
VOICED_ONLY = frozenset({"f0_hz", "f0_st", "f0_delta_st_per_s", "jitter_local", "shimmer_local", "hnr_db"})


@dataclass(frozen=True)
class FrameFeatures:
    """All frame features of one signal: ``values`` (F, K) with columns ``names``, frame-centre
    ``times_s`` (F,) from the first sample, plus the boolean voiced and speech masks."""

    times_s: np.ndarray
    values: np.ndarray
    names: tuple[str, ...]
    voiced: np.ndarray
    speech: np.ndarray


def frame_features(y: np.ndarray, sr: int, hop_s: float = 0.01, pitch: PitchSettings = PitchSettings(),
                   window_s: float = 0.025, voice_window_s: float = 0.06, vad_range_db: float = 35.0,
                   min_pause_s: float = 0.15) -> FrameFeatures:
    """Every audio frame feature (``FRAME_NAMES``) of a mono signal on the shared frame grid."""
    sig = to_analysis_rate(y, sr, hop_s)
    track = _analyse(sig, pitch)
    F = sig.n_frames
    st = semitones(track.f0_hz)
    jit, shim = jitter_shimmer(sig.y, sig.sr, track, voice_window_s, max(0.02, 1.0 / pitch.floor_hz))
    spectral = spectral_features(sig.y, sig.sr, sig.hop, F, window_s)
    speech = speech_mask(spectral[:, SPECTRAL_NAMES.index("rms_db")], track.voiced, hop_s, vad_range_db, min_pause_s)
    cols = [track.f0_hz, st, track.voicing_prob, track.voiced.astype(np.float64),
            f0_delta(st, track.voiced, hop_s), jit, shim, hnr_db(track.strength, track.voiced)]
    if F == 0:
        return FrameFeatures(track.times_s, np.zeros((0, len(FRAME_NAMES))), FRAME_NAMES, track.voiced, speech)
    values = np.column_stack(cols + [spectral, speech.astype(np.float64)[:, None]])  # (F, K)
    return FrameFeatures(track.times_s, values, FRAME_NAMES, track.voiced, speech)
