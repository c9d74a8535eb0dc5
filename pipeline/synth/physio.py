"""Demo EEG and ECG signals with planted label factors, written as EDF.

Why it looks like this: the demo must teach a model something that holds on unseen subjects, so
each trial factor shapes a band-power feature that is stable within every 4 s window (a shared
frontal alpha source seen with different left/right gains, global alpha vs beta gains), while
per-subject nuisance (amplitude, alpha frequency, a small asymmetry bias) keeps generalisation from
being trivial. ECG is a sum-of-Gaussians PQRST train whose R-peak times are known exactly.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np


EEG_SFREQ = 128.0
ECG_SFREQ = 256.0
# Emotiv EPOC layout (also DREAMER's): 14 standard 10-20 names.
EEG_CHANNELS = ("AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4")
FRONTAL_LEFT = ("AF3", "F7", "F3", "FC5")
FRONTAL_RIGHT = ("AF4", "F8", "F4", "FC6")
POSTERIOR = ("P7", "O1", "O2", "P8")
MEAS_DATE = _dt.datetime(2020, 1, 1, 9, 0, 0, tzinfo=_dt.timezone.utc)

# Effect sizes (documented in truth.json and the README).
ASYM_PER_Z = 0.5      # ln(alpha amplitude right / left) per unit of the EEG valence factor
AROUSAL_PER_Z = 0.25  # ln gain: beta amplitude *= exp(+k z), alpha amplitude *= exp(-k z)
HR_PER_Z = 7.0        # heart rate change (bpm) per unit of the ECG arousal factor


@dataclass(frozen=True)
class PhysioTraits:
    """Per-subject nuisance for EEG and ECG."""

    eeg_gain: float      # multiplies every EEG channel
    alpha_hz: float      # individual alpha peak frequency
    asym_bias: float     # subject's resting ln amplitude asymmetry (right/left)
    hr_bpm: float        # resting heart rate


def _band_noise(rng: np.random.Generator, n: int, sfreq: float, centre: float, width: float) -> np.ndarray:
    """Unit-RMS narrow-band Gaussian noise (Gaussian spectral shape): a waxing-waning rhythm."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sfreq)
    spec *= np.exp(-0.5 * ((f - centre) / width) ** 2)
    x = np.fft.irfft(spec, n)
    return x / (x.std() + 1e-12)


def _pink_noise(rng: np.random.Generator, shape: tuple[int, int], sfreq: float) -> np.ndarray:
    """Unit-RMS 1/f noise per row, high-passed at 0.3 Hz so it has no DC offset."""
    n = shape[1]
    spec = np.fft.rfft(rng.standard_normal(shape), axis=1)
    f = np.fft.rfftfreq(n, 1.0 / sfreq)
    gain = np.where(f > 0.3, 1.0 / np.sqrt(np.maximum(f, 0.3)), 0.0)
    x = np.fft.irfft(spec * gain, n, axis=1)
    return x / (x.std(axis=1, keepdims=True) + 1e-12)


def eeg_signal(rng: np.random.Generator, traits: PhysioTraits, z_valence: float, z_arousal: float,
               duration_s: float, blinks_s: np.ndarray) -> np.ndarray:
    """EEG in microvolts, shape (len(EEG_CHANNELS), n) at EEG_SFREQ.

    Frontal alpha comes from one shared source, so the right/left power ratio equals
    exp(2 * (ASYM_PER_Z * z_valence + asym_bias)) in any window. Alpha is scaled by
    exp(-AROUSAL_PER_Z * z) and beta by exp(+AROUSAL_PER_Z * z) everywhere.
    """
    n = int(round(duration_s * EEG_SFREQ))
    t = np.arange(n) / EEG_SFREQ
    ch = {name: i for i, name in enumerate(EEG_CHANNELS)}
    x = 5.0 * _pink_noise(rng, (len(EEG_CHANNELS), n), EEG_SFREQ)
    alpha_gain = np.exp(-AROUSAL_PER_Z * z_arousal)
    beta_gain = np.exp(AROUSAL_PER_Z * z_arousal)
    frontal = _band_noise(rng, n, EEG_SFREQ, traits.alpha_hz, 0.7)
    posterior = _band_noise(rng, n, EEG_SFREQ, traits.alpha_hz, 0.7)
    log_ratio = ASYM_PER_Z * z_valence + traits.asym_bias
    for name in FRONTAL_LEFT:
        x[ch[name]] += 9.0 * alpha_gain * np.exp(-log_ratio / 2) * frontal
    for name in FRONTAL_RIGHT:
        x[ch[name]] += 9.0 * alpha_gain * np.exp(log_ratio / 2) * frontal
    for name in POSTERIOR:
        x[ch[name]] += 12.0 * alpha_gain * posterior
    for name in ("T7", "T8"):
        x[ch[name]] += 4.0 * alpha_gain * posterior
    beta_shared = _band_noise(rng, n, EEG_SFREQ, 21.0, 3.0)
    for i in range(len(EEG_CHANNELS)):
        own = _band_noise(rng, n, EEG_SFREQ, 21.0, 3.0)
        x[i] += 4.0 * beta_gain * (0.7 * beta_shared + 0.7 * own)
    x += 1.0 * np.sin(2 * np.pi * 50.0 * t + rng.uniform(0, 2 * np.pi))  # mains hum for the notch filter
    for tb in blinks_s:  # ocular artefact: frontal, symmetric, slow
        bump = 80.0 * np.exp(-0.5 * ((t - tb - 0.12) / 0.08) ** 2)
        for name, w in (("AF3", 1.0), ("AF4", 1.0), ("F7", 0.5), ("F8", 0.5), ("F3", 0.4), ("F4", 0.4)):
            x[ch[name]] += w * bump
    return (traits.eeg_gain * x).astype(np.float64)


def r_peak_times(rng: np.random.Generator, hr_bpm: float, duration_s: float) -> np.ndarray:
    """Beat times with respiratory sinus arrhythmia (0.25 Hz, +-4 %) and 1.5 % RR jitter."""
    phase = rng.uniform(0, 2 * np.pi)
    peaks = []
    t = float(rng.uniform(0.15, 0.6))
    while t < duration_s - 0.1:
        peaks.append(t)
        hr = hr_bpm * (1.0 + 0.04 * np.sin(2 * np.pi * 0.25 * t + phase))
        t += 60.0 / hr * (1.0 + 0.015 * rng.standard_normal())
    return np.asarray(peaks)


# (offset from R in s, sigma in s, amplitude in mV); T-wave offset scales with sqrt(RR) (Bazett).
_PQRST = ((-0.16, 0.025, 0.12), (-0.03, 0.010, -0.12), (0.0, 0.011, 1.1), (0.03, 0.011, -0.22))
_T_WAVE = (0.28, 0.045, 0.30)


def ecg_signal(rng: np.random.Generator, peaks_s: np.ndarray, duration_s: float) -> np.ndarray:
    """Lead-II-like ECG in millivolts at ECG_SFREQ; the R wave of beat k peaks at peaks_s[k]."""
    n = int(round(duration_s * ECG_SFREQ))
    t = np.arange(n) / ECG_SFREQ
    x = np.zeros(n)
    rr = np.diff(peaks_s, append=peaks_s[-1] + (peaks_s[-1] - peaks_s[-2] if len(peaks_s) > 1 else 0.8))
    for tr, r in zip(peaks_s, rr):
        lo, hi = np.searchsorted(t, [tr - 0.35, tr + 0.7])
        seg = t[lo:hi] - tr
        for off, sig, amp in _PQRST:
            x[lo:hi] += amp * np.exp(-0.5 * ((seg - off) / sig) ** 2)
        off, sig, amp = _T_WAVE
        x[lo:hi] += amp * np.exp(-0.5 * ((seg - off * np.sqrt(r)) / sig) ** 2)
    x += 0.08 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi))  # baseline wander
    x += 0.01 * rng.standard_normal(n)
    return x


def write_edf(path: Path, data_uv: np.ndarray, ch_names: list[str], sfreq: float, ch_type: str,
              subject_info: dict) -> None:
    """Write microvolt data as EDF with a fixed measurement date (so bytes are reproducible)."""
    import mne

    info = mne.create_info(list(ch_names), sfreq, ch_types=ch_type, verbose="ERROR")
    raw = mne.io.RawArray(data_uv * 1e-6, info, verbose="ERROR")
    raw.set_meas_date(MEAS_DATE)
    raw.info["subject_info"] = subject_info
    path.parent.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, physical_range="channelwise",
                          add_ch_type=False, verbose="ERROR")
