"""Energy and spectral-shape features per frame (numpy), on the audio stage's frame grid.

Frame ``k`` is centred at sample ``k * hop`` with a ``window_s`` window, zero-padded at the ends
(see ``pipeline.audio.voice``). Definitions follow eGeMAPS (Eyben et al. 2016) where it has one:
- ``rms``: root mean square of the samples in the (rectangular) window; ``rms_db`` = 20 log10,
  dB re full scale, floored at -100 dB.
- ``loudness``: eGeMAPS-style perceived intensity: a 26-band mel power spectrum weighted by an
  equal-loudness curve (Hermansky's PLP approximation) and compressed with power 0.33, summed
  over bands (arbitrary units, 0 for silence); ``loudness_db`` = 10 log10 of the weighted band
  power before compression (dB, floored at -100).
- ``spectral_slope_0_500`` / ``spectral_slope_500_1500``: linear-regression slope of the log
  power spectrum (dB) against frequency within the band, in dB per kHz.
- ``alpha_ratio_db``: summed power 50-1000 Hz over summed power 1-5 kHz, in dB.
- ``hammarberg_db``: strongest bin 0-2 kHz over strongest bin 2-5 kHz, in dB.
Upper band edges are clipped to the Nyquist frequency (at 8 kHz sampling: 4 kHz). Silence gives
0 for ratios and slopes (numerator and denominator share the same floor), never NaN.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SPECTRAL_NAMES = ("rms", "rms_db", "loudness", "loudness_db", "spectral_slope_0_500",
                  "spectral_slope_500_1500", "alpha_ratio_db", "hammarberg_db")
POWER_FLOOR = 1e-12   # about -120 dB re a full-scale sine's bin power; keeps logs finite
DB_FLOOR = -100.0
N_MEL = 26


def frame_signal(y: np.ndarray, hop: int, win: int, n_frames: int) -> np.ndarray:
    """Frames (n_frames, win) centred at ``k * hop``, zero-padded at both ends (a view if possible)."""
    left = win // 2
    padded = np.zeros(len(y) + 2 * win)  # the last centre is at most len(y) - 1
    padded[left:left + len(y)] = y
    windows = np.lib.stride_tricks.sliding_window_view(padded, win)
    return windows[: (n_frames - 1) * hop + 1 : hop][:n_frames]


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)   # HTK mel scale


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def _loudness_weights(sr: int, n_fft: int) -> np.ndarray:
    """(bins, N_MEL) triangular HTK-mel filterbank (peak 1, 20 Hz to min(8 kHz, Nyquist)) times
    the equal-loudness weight at each band's centre (Hermansky 1990)."""
    fmax = min(8000.0, sr / 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(20.0), _hz_to_mel(fmax), N_MEL + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))  # (N_MEL, bins)
    w2 = (2 * np.pi * edges[1:-1]) ** 2
    eql = ((w2 + 56.8e6) * w2 ** 2) / ((w2 + 6.3e6) ** 2 * (w2 + 0.38e9))
    return (tri * (eql / eql.max())[:, None]).T


def _band(freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (freqs >= lo) & (freqs <= min(hi, freqs[-1]))


def _slope_weights(freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Least-squares slope as a dot product: slope = P_dB @ w (dB per kHz)."""
    band = _band(freqs, lo, hi)
    f = freqs / 1000.0
    w = np.zeros_like(f)
    if band.sum() >= 2:
        fc = f[band] - f[band].mean()
        w[band] = fc / np.sum(fc ** 2)
    return w


def _ratio_db(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10((num + POWER_FLOOR) / (den + POWER_FLOOR))


def _block_features(frames: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """Features of one block of frames (B, win) -> (B, len(SPECTRAL_NAMES))."""
    win = frames.shape[1]
    out = np.empty((len(frames), len(SPECTRAL_NAMES)))
    rms = np.sqrt(np.mean(frames ** 2, axis=1))
    window = np.hamming(win)
    spec = np.fft.rfft(frames * window, n=n_fft, axis=1)          # (B, bins)
    power = (spec.real ** 2 + spec.imag ** 2) / np.sum(window ** 2)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    bands = power @ _loudness_weights(sr, n_fft)                  # (B, N_MEL)
    log_p = 10.0 * np.log10(power + POWER_FLOOR)                  # (B, bins)
    lo_band, hi_band = _band(freqs, 50, 1000), _band(freqs, 1000, 5000)
    out[:, 0] = rms
    out[:, 1] = np.maximum(20.0 * np.log10(np.maximum(rms, 1e-300)), DB_FLOOR)
    out[:, 2] = np.sum(bands ** 0.33, axis=1)
    out[:, 3] = np.maximum(10.0 * np.log10(np.maximum(bands.sum(axis=1), 1e-300)), DB_FLOOR)
    out[:, 4] = log_p @ _slope_weights(freqs, 0, 500)
    out[:, 5] = log_p @ _slope_weights(freqs, 500, 1500)
    out[:, 6] = _ratio_db(power[:, lo_band].sum(axis=1), power[:, hi_band].sum(axis=1))
    out[:, 7] = _ratio_db(power[:, _band(freqs, 0, 2000)].max(axis=1), power[:, _band(freqs, 2000, 5000)].max(axis=1))
    return out


def spectral_features(y: np.ndarray, sr: int, hop: int, n_frames: int, window_s: float = 0.025,
                      block: int = 4096) -> np.ndarray:
    """(n_frames, len(SPECTRAL_NAMES)) float64 energy and spectral-shape features, columns in
    ``SPECTRAL_NAMES`` order. Computed ``block`` frames at a time so an hour of audio needs
    tens of MB, not GBs, of spectra."""
    win = max(2, int(round(window_s * sr)))
    n_fft = 1 << (win - 1).bit_length()
    out = np.zeros((n_frames, len(SPECTRAL_NAMES)))
    if n_frames == 0:
        return out
    frames = frame_signal(y, hop, win, n_frames)                  # (F, win) strided view, no copy
    for start in range(0, n_frames, block):
        out[start:start + block] = _block_features(frames[start:start + block], sr, n_fft)
    return out
