"""EEG preprocessing with MNE: pick channels, repair NaNs, band-pass, notch, re-reference, resample.

Stores the continuous signal (float32 microvolts, time on axis 0) with channel names and rate, so
stage two can cut windows of any length without a rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from pipeline.errors import ConfigError, ExtractionError
from pipeline.extractors.base import BaseExtractor, FeatureArrays, register_extractor
from pipeline.manifest import Recording, Stream
from pipeline.signal_readers import pick_channels, read_raw


@dataclass(frozen=True)
class EEGConfig:
    """Preprocessing for affect work. Frequencies in Hz, durations in seconds."""

    l_freq: float | None = 0.5
    h_freq: float | None = 45.0
    notch_hz: tuple[float, ...] = (50.0,)
    reference: str = "average"          # "average", "none", or a channel name
    sfreq: float = 128.0
    nan_policy: str = "interpolate"     # "interpolate" (linear in time) or "reject"
    max_nan_fraction: float = 0.1       # above this a channel is rejected even when interpolating
    flat_policy: str = "reject"         # "reject" or "keep"
    flat_uv: float = 0.5                # a channel whose std is below this (µV) is flat
    min_duration_s: float = 4.0         # shorter recordings cannot fill one training window

    def __post_init__(self) -> None:
        if self.sfreq <= 0:
            raise ConfigError(f"eeg.sfreq must be > 0 Hz, got {self.sfreq}")
        if self.l_freq is not None and self.h_freq is not None and not 0 <= self.l_freq < self.h_freq:
            raise ConfigError(f"eeg band {self.l_freq}-{self.h_freq} Hz is empty; need l_freq < h_freq")
        if self.h_freq is not None and self.h_freq >= self.sfreq / 2:
            raise ConfigError(f"eeg.h_freq {self.h_freq} Hz must be below the target Nyquist ({self.sfreq / 2} Hz)")
        if self.nan_policy not in ("interpolate", "reject"):
            raise ConfigError(f"eeg.nan_policy must be 'interpolate' or 'reject', got '{self.nan_policy}'")
        if self.flat_policy not in ("reject", "keep"):
            raise ConfigError(f"eeg.flat_policy must be 'reject' or 'keep', got '{self.flat_policy}'")
        object.__setattr__(self, "notch_hz", tuple(float(f) for f in self.notch_hz))


def repair_nans(data: np.ndarray, names: list[str], cfg: EEGConfig, where: str) -> np.ndarray:
    """Linearly interpolate NaN runs per channel, or reject; returns a copy without NaNs."""
    bad = ~np.isfinite(data)
    if not bad.any():
        return data
    frac = bad.mean(axis=1)
    worst = int(np.argmax(frac))
    if cfg.nan_policy == "reject":
        raise ExtractionError(f"{where}: channel '{names[worst]}' has {frac[worst]:.1%} NaN/inf samples. "
                              "Fix the file or use --nan-policy interpolate.")
    if frac[worst] > cfg.max_nan_fraction or frac[worst] == 1.0:
        raise ExtractionError(f"{where}: channel '{names[worst]}' has {frac[worst]:.1%} NaN/inf samples, more than "
                              f"max_nan_fraction={cfg.max_nan_fraction:.0%} can repair. Drop it from 'channels'.")
    out = data.copy()
    idx = np.arange(data.shape[1])
    for c in np.flatnonzero(bad.any(axis=1)):
        ok = ~bad[c]
        out[c, ~ok] = np.interp(idx[~ok], idx[ok], data[c, ok])
    return out


@register_extractor
class EEGPreprocess(BaseExtractor):
    """MNE preprocessing of one EEG stream into a continuous float32 signal."""

    name: ClassVar[str] = "eeg"
    modality: ClassVar[str] = "eeg"
    version: ClassVar[str] = "2"  # 2: source_sfreq is the file's rate, not the target rate (issue 14)
    config_type: ClassVar[type] = EEGConfig
    libraries: ClassVar[tuple[str, ...]] = ("mne", "numpy", "scipy")

    def describe(self) -> dict:
        return {"unit": "uV", "layout": "data (samples, channels)"}

    def extract(self, recording: Recording, stream: Stream) -> FeatureArrays:
        cfg: EEGConfig = self.config
        raw = read_raw(stream)
        source_sfreq = float(raw.info["sfreq"])  # the file's own rate, before preprocess_raw resamples
        where = str(stream.path)
        names = pick_channels(raw, stream, default_types=("eeg",))
        raw.pick(names, verbose="ERROR")
        raw.set_channel_types({n: "eeg" for n in names if raw.get_channel_types([n])[0] != "eeg"}, verbose="ERROR")
        duration = raw.n_times / raw.info["sfreq"]
        if duration < cfg.min_duration_s:
            raise ExtractionError(f"{where}: recording is {duration:.2f} s long, shorter than min_duration_s="
                                  f"{cfg.min_duration_s} s (one training window). Drop it or lower --min-duration-s.")
        raw._data[:] = repair_nans(raw.get_data(), names, cfg, where)
        std_uv = raw.get_data().std(axis=1) * 1e6
        flat = [n for n, s in zip(names, std_uv) if s < cfg.flat_uv]
        if flat and cfg.flat_policy == "reject":
            raise ExtractionError(f"{where}: flat channel(s) {flat} (std < {cfg.flat_uv} µV). Remove them from "
                                  "'channels' in the manifest or use --flat-policy keep.")
        preprocess_raw(raw, cfg, notch_hz=notch_frequencies(cfg, stream))
        data = (raw.get_data().T * 1e6).astype(np.float32)  # (N, C) µV
        times = raw.times + stream.offset_s
        return FeatureArrays(times_s=times, arrays={"data": data},
                             attrs={"sfreq": float(raw.info["sfreq"]), "ch_names": list(raw.ch_names),
                                    "source_sfreq": source_sfreq, "flat_channels": flat},
                             dims={"data": ("time", "channel")}, units={"data": "uV"},
                             coords={"channel": list(raw.ch_names)})


def notch_frequencies(cfg: EEGConfig, stream: Stream) -> tuple[float, ...]:
    """The notch frequencies for one recording (Hz).

    A stream that states its mains frequency (``options.line_freq_hz``, e.g. BIDS
    PowerLineFrequency) gets that frequency and its harmonics, as many as ``cfg.notch_hz`` lists
    (default: one), so 60 Hz recordings are not notched at 50 Hz; otherwise ``cfg.notch_hz``.
    """
    line = stream.options.get("line_freq_hz")
    if line is None or not cfg.notch_hz:
        return cfg.notch_hz
    try:
        line = float(line)
    except (TypeError, ValueError):
        line = -1.0
    if not line > 0:
        raise ExtractionError(f"{stream.path}: options.line_freq_hz must be a positive number of Hz, got "
                              f"{stream.options['line_freq_hz']!r}. Fix it in the manifest (usually 50 or 60).")
    return tuple(line * (k + 1) for k in range(len(cfg.notch_hz)))


def preprocess_raw(raw, cfg: EEGConfig, notch_hz: tuple[float, ...] | None = None) -> None:
    """Filter, notch (``notch_hz``, default ``cfg.notch_hz``), re-reference and resample an MNE Raw
    in place (MNE defaults otherwise)."""
    nyq = raw.info["sfreq"] / 2
    h_freq = cfg.h_freq if cfg.h_freq is not None and cfg.h_freq < nyq else None
    if cfg.l_freq is not None or h_freq is not None:
        raw.filter(cfg.l_freq, h_freq, verbose="ERROR")
    notches = [f for f in (cfg.notch_hz if notch_hz is None else notch_hz) if f < nyq - 1]
    if notches:
        raw.notch_filter(notches, verbose="ERROR")
    if cfg.reference == "average":
        raw.set_eeg_reference("average", projection=False, verbose="ERROR")
    elif cfg.reference != "none":
        if cfg.reference not in raw.ch_names:
            raise ExtractionError(f"reference channel '{cfg.reference}' is not among the picked channels "
                                  f"{raw.ch_names}. Pick it in the manifest or use --reference average.")
        raw.set_eeg_reference([cfg.reference], projection=False, verbose="ERROR")
    if abs(raw.info["sfreq"] - cfg.sfreq) > 1e-9:
        raw.resample(cfg.sfreq, verbose="ERROR")
