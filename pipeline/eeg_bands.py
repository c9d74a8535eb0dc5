"""Band differential entropy (DE) of EEG windows: the classic affect baseline feature.

DE of a band-passed Gaussian signal is ``0.5 * log(2 pi e var)``. Two filterings are offered:

- ``window-lfilter`` (default) reproduces TorchEEG's ``BandDifferentialEntropy`` exactly: each
  window is filtered on its own with a causal Butterworth band-pass (``butter(order, band)`` in
  transfer-function form, zero initial state) and the log is base 2. Numbers are comparable with
  the many DEAP/DREAMER papers that used it, including the filter's start-up transient.
- ``trial-sosfiltfilt`` filters the whole trial once, zero-phase (second-order sections), then cuts
  the windows: no start-up transient inside a window, at the price of differing from TorchEEG.

Kept free of the cache and of MNE so stage two's classic baseline can reuse it on plain arrays.
"""

from __future__ import annotations

import functools

import numpy as np

Band = tuple[str, float, float]
DEFAULT_BANDS: tuple[Band, ...] = (("theta", 4.0, 8.0), ("alpha", 8.0, 14.0), ("beta", 14.0, 31.0),
                                   ("gamma", 31.0, 49.0))
FILTERS = ("window-lfilter", "trial-sosfiltfilt")
LOGS = {"log2": np.log2, "ln": np.log}


def window_starts(n_samples: int, win: int, hop: int) -> np.ndarray:
    """Start samples of every full window ``[s, s + win)`` that fits in ``n_samples``."""
    if win <= 0 or hop <= 0:
        raise ValueError(f"window ({win}) and hop ({hop}) must be positive sample counts")
    if n_samples < win:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_samples - win + 1, hop, dtype=np.int64)


def differential_entropy(x: np.ndarray, log: str = "log2") -> np.ndarray:
    """``0.5 * log(2 pi e var(x))`` over the last axis (population variance, as np.var)."""
    return 0.5 * LOGS[log](2 * np.pi * np.e * np.var(x, axis=-1))


def band_de(data: np.ndarray, sfreq: float, bands: tuple[Band, ...] = DEFAULT_BANDS, win: int = 128,
            hop: int = 128, order: int = 5, method: str = "window-lfilter", log: str = "log2") -> np.ndarray:
    """Band DE per window and channel.

    data: (C, N) one trial, any unit (DE shifts by log(scale)); returns (W, C, B) float64 for the
    ``W`` full windows of ``win`` samples every ``hop`` samples, in the order of ``bands``.
    """
    from scipy import signal  # here, not at the top: the extractor registry is imported by every command

    if method not in FILTERS:
        raise ValueError(f"unknown filter '{method}'; choose one of {FILTERS}")
    data = np.asarray(data, dtype=np.float64)
    starts = window_starts(data.shape[-1], win, hop)
    idx = starts[:, None] + np.arange(win)[None, :]                     # (W, win)
    out = np.empty((len(starts), data.shape[0], len(bands)))           # (W, C, B)
    windows = data[:, idx].transpose(1, 0, 2) if method == "window-lfilter" else None   # (W, C, win)
    for b, (_, low, high) in enumerate(bands):
        if windows is not None:
            num, den = _butter(order, low, high, sfreq, "ba")
            filtered = signal.lfilter(num, den, windows, axis=-1)
        else:
            sos = _butter(order, low, high, sfreq, "sos")
            filtered = signal.sosfiltfilt(sos, data, axis=-1)[:, idx].transpose(1, 0, 2)
        out[:, :, b] = differential_entropy(filtered, log)
    return out


@functools.lru_cache(maxsize=64)
def _butter(order: int, low: float, high: float, sfreq: float, output: str):
    """Butterworth band-pass design, cached: designing costs more than filtering one trial's band."""
    from scipy import signal

    return signal.butter(order, [low, high], btype="band", fs=sfreq, output=output)
